"""Bad benchmark input: the message says what is wrong and what to do (the tool prints it as
one line and exits with status 2)."""


class BenchmarkError(Exception):
    pass
