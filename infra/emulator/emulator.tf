# Copied with emulator_override.tf by scripts/infra-check.sh. It is not an override file because an
# override file cannot declare a new variable, only change one declared elsewhere.
variable "emulator_endpoint" {
  description = "Base URL of the AWS emulator (moto server) every AWS endpoint points at, e.g. http://127.0.0.1:5000."
  type        = string

  validation {
    condition     = can(regex("^https?://", var.emulator_endpoint))
    error_message = "emulator_endpoint must be an http(s) URL."
  }
}
