provider "aws" {
  # Null uses the region of the environment (AWS_REGION) or of the selected profile.
  region = var.region

  default_tags {
    tags = merge(
      {
        "app"        = var.name_prefix
        "managed-by" = "terraform"
      },
      var.tags,
    )
  }
}
