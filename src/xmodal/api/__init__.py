"""The servers: the service every interface shares, its input limits, the HTTP app, the MCP server
and the web page (what the command-line commands do lives in :mod:`xmodal.commands`)."""
