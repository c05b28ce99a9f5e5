"""The errors the tools turn into one line on stderr (tools/*.py catch them)."""


class ToolError(Exception):
    """A user-facing problem with the command line, config, data or a file: the message says
    what was wrong and what to do."""
