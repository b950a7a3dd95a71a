"""No CDN (the demo, a single machine): Django serves media itself and nothing caches them."""


class LocalCdnBackend:
    def invalidate(self, paths: list[str]) -> str:
        return ""
