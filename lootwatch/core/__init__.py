"""The base layer: settings, errors, database, files, images and the queue. Imports nothing else of lootwatch."""
