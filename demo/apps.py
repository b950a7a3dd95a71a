from django.apps import AppConfig


class DemoConfig(AppConfig):
    """``make demo``: the seeded brand (seed_demo) and the live demo show (demo_show). Depends on
    every other app; none depends on it."""

    name = "demo"
    verbose_name = "Demo"
