"""The docs' records: every figure in README.md and docs/*.md comes from a JSON record that
the code wrote, and the docs' commands are the ones users can run.

    sources.py   which command makes each record, how long it runs, whether it is a timing
    store.py     reading, picking and formatting a figure, writing a record (whole or not at all)
    tables.py    the generated tables, each a function of the records
    render.py    filling the docs' generated parts in; the differences the test reports
    markdown.py  the docs' ```bash blocks and their docs-check markers (the command check)

tools/docs_records.py is the command line; tests/test_docs.py holds the docs to the records
and runs the docs' quick commands.
"""
