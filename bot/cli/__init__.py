"""The `gongkai` command line: the click group (main) and one module per command group. Nothing
else imports it.
"""
