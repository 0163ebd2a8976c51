"""The interfaces people and agents use: command line (HTTP, MCP and the web page come next)."""
