"""Object storage: the `BlobStore` port (`port`) and its S3 adapter (`s3`)."""
