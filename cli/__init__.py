"""The `avatar` command line (cli/main.py registers each command group)."""

# Help texts are Markdown: as Rich markup (Typer's default) "[default: AVATAR_FPS, 25]" was taken for a style tag and
# dropped ("Frames per second ."), and the command list kept each docstring's line breaks. An angle bracket is
# escaped (\<): Markdown takes <name> for an HTML tag
HELP_MARKUP = "markdown"
