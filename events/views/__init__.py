"""The events app's pages by audience: ``studio`` (the seller dashboard, the go-live panel and the
host console) and ``viewer`` (the event page, its QR codes and invited viewers' pages)."""
