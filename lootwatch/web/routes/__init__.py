"""The review app's routes, one router per area: auth, queue, alerts, media, admin."""
