"""The recordings app's pages by audience: ``replay`` (viewers' replay and video pages, their QR
codes and media files) and ``studio`` (uploads, processing and the timeline editor)."""
