"""How the service is driven: HTTP (the API, the console, Twilio's webhooks) and the CLI."""
