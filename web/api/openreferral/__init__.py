"""The Open Referral UK 3.0 feed of each council's published offers (see ``routes``)."""
