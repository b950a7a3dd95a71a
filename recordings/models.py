# Recordings and product cues arrive with the recordings work.
