"""Jobs analysing one photo at the same moment in threads (embedded server, stream) all get the analysis."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from models.face.analysis import analyze_face


def test_concurrent_analyses_of_one_photo(astronaut, data_dir):
    with ThreadPoolExecutor(4) as pool:
        faces = list(pool.map(lambda _: analyze_face(astronaut, size=256), range(4)))
    assert all(np.allclose(f.landmarks, faces[0].landmarks) for f in faces)
    assert len(list((data_dir / "cache" / "faces").glob("*.tmp"))) == 0
