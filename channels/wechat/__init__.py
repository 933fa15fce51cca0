"""The WeChat Official Account channel: the channel itself (channel), the REST client (api), the
shared access token (token), article images (media), article comments of both copies, 发表 and
群发 (comments), errcodes (errors) and the callback's message format (messages: XML parsed
safely, messages and events classified).

Imports only channels.base, channels.http_session and channels.pacing of the project; never bot/.
"""
