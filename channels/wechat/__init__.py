"""The WeChat Official Account channel: the channel itself (channel), the REST client (api), the
shared access token (token), article images (media) and errcodes (errors).

Imports only channels.base and channels.http_session of the project; never bot/.
"""
