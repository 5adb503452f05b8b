"""The whole platform on one machine: generated secrets, embedded PostgreSQL and SeaweedFS, supervised children."""
