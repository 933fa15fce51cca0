"""The 随申办 app channel (channel) and the open platform's contract in one place (contract).

Imports only channels.base and channels.http_session of the project; never bot/.
"""
