"""The bot's features, one extension each, loaded by name (``bot.chat.client.EXTENSIONS``)."""
