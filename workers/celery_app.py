"""The one Celery app: configuration in one place, queues `cpu` and `gpu`, reliability settings.

Start a worker with `avatar worker --queues cpu` (or gpu, or cpu,gpu). Tasks carry job ids only; the job row
in the database is the source of truth and the reconciler re-enqueues anything a broker loses.
"""

from __future__ import annotations

from celery import Celery
from celery.signals import celeryd_after_setup, setup_logging, worker_init, worker_process_init, worker_shutdown
from kombu import Queue

from core.settings import get_settings
from workers import device_report
from workers.routing import RECONCILE_TASK

QUEUES = ("cpu", "gpu")


def create_celery() -> Celery:
    settings = get_settings()
    broker = settings.broker_url or "memory://"
    app = Celery("avatar", broker=broker, include=["workers.tasks"])
    app.conf.update(
        task_queues=[Queue(name) for name in QUEUES],
        task_default_queue="cpu",
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        # a task is acknowledged only after it ran, and requeued if its worker process dies
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # Redis redelivers an unacknowledged message after this; it must exceed the longest job
        broker_transport_options={"visibility_timeout": settings.broker_visibility_timeout},
        broker_connection_retry_on_startup=True,
        worker_send_task_events=True,  # for Flower
        task_send_sent_event=True,
        beat_schedule={
            "reconcile-stalled-jobs": {
                "task": RECONCILE_TASK,
                "schedule": settings.reconcile_interval_seconds,
                "options": {"queue": "cpu", "expires": settings.reconcile_interval_seconds},
            }
        },
    )
    return app


app = create_celery()


@worker_init.connect
def _preload_pipeline(**_: object) -> None:
    # LangGraph and the models take seconds to import: pay that once, in the worker before it forks its pool,
    # not in each pool child on its first task (a child that replaces a killed one is ready at once)
    import pipeline.runner  # noqa: F401


@celeryd_after_setup.connect
def _report_device(sender: str, instance: object, **_: object) -> None:
    # after -Q is applied: a worker on the gpu queue says whether it has a CUDA device (workers.device_report)
    device_report.start(sender, sorted(instance.app.amqp.queues.consume_from))  # type: ignore[attr-defined]


@worker_shutdown.connect
def _withdraw_device(**_: object) -> None:
    device_report.stop()


@worker_process_init.connect
def _fresh_connections(**_: object) -> None:
    # pooled database connections and storage clients must not be shared across the prefork fork
    from core.db import dispose_engines
    from core.storage import forget_clients

    dispose_engines()
    forget_clients()


@setup_logging.connect
def _logging(loglevel: str | None = None, **_: object) -> None:
    # one log format for the API, workers and CLI (AVATAR_LOG_FORMAT / AVATAR_LOG_LEVEL)
    from core.logging import setup_logging as configure

    configure(loglevel if isinstance(loglevel, str) else None)
