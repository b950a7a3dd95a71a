"""The static files storage in production: WhiteNoise's compressed storage with hashed names
(cached for good by browsers and the CDN), which also rewrites our ES modules' relative imports
(``import { show } from "./lib/card.js";``) to the hashed names. Without that, a page's hashed
module would import the unhashed library file, which may be cached from an older release."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    support_js_module_import_aggregation = True
