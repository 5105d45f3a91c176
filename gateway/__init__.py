"""The fngate gateway: app factory (``gateway.app.create_app``), dispatcher, store, routes."""
