from django.apps import AppConfig


class DiscoveryConfig(AppConfig):
    name = "discovery"
    verbose_name = "Product discovery"

    def ready(self):
        """Product images are indexed when they change, and a live event gets a frame sampler
        (discovery.receivers; events and catalog never import discovery)."""
        from discovery import receivers

        receivers.connect()
