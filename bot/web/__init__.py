"""The web app (aiohttp): app.py builds it and alone imports the route modules of api/,
public/, callbacks/, ops/ and console/; keys.py holds the typed app state they share."""
