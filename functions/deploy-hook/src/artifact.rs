//! The image to deploy, from the pipeline's input artifact: a zip in the artifact bucket, read
//! with the job's own temporary credentials (not the function's role), holding
//! `imagedefinitions.json` or `imageDetail.json`.

use std::io::{Cursor, Read};

use aws_config::SdkConfig;
use aws_sdk_s3::config::Credentials;

use crate::event::{image_definitions, image_detail, ArtifactAccess, ArtifactLocation};

/// Why no image could be read from the artifact.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// The artifact is not what a deploy action expects (a configuration problem).
    #[error("input artifact {artifact}: {message}")]
    Invalid {
        /// Artifact name and location.
        artifact: String,
        /// What is wrong.
        message: String,
    },
    /// S3 refused the read for good (access denied, a bad signature, no such key): the job
    /// fails; retrying the same job would fail the same way.
    #[error("reading input artifact {artifact} was refused: {message}")]
    Refused {
        /// Artifact name and location.
        artifact: String,
        /// The AWS error code and message (never the response body, which can echo the
        /// request's credentials).
        message: String,
    },
    /// S3 could not be read now (throttling, 5xx, a timeout, a lost connection).
    #[error("reading input artifact {artifact} failed: {message}")]
    Unavailable {
        /// Artifact name and location.
        artifact: String,
        /// The SDK error (it carries no credential).
        message: String,
    },
}

/// The largest artifact read (image definition zips are a few hundred bytes).
const MAX_ARTIFACT_BYTES: usize = 16 * 1024 * 1024;

/// Reads the image for `container` from the first input artifact.
pub async fn image_from_artifact(
    sdk: &SdkConfig,
    access: &ArtifactAccess,
    artifacts: &[ArtifactLocation],
    container: &str,
) -> Result<String, ArtifactError> {
    let Some(location) = artifacts.first() else {
        return Err(ArtifactError::Invalid {
            artifact: "(none)".into(),
            message: "the action has no input artifact and UserParameters names no image".into(),
        });
    };
    let name = ops_adapters::error::bounded(
        &format!(
            "{} (s3://{}/{})",
            location.name, location.bucket, location.key
        ),
        ops_adapters::error::MAX_MESSAGE,
    );
    let credentials = Credentials::new(
        access.access_key_id.clone(),
        access.secret_access_key.clone(),
        access.session_token.clone(),
        None,
        "codepipeline-artifact-credentials",
    );
    let path_style =
        sdk.endpoint_url().is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
    let config = aws_sdk_s3::config::Builder::from(sdk)
        .credentials_provider(credentials)
        .force_path_style(path_style)
        .build();
    let client = aws_sdk_s3::Client::from_conf(config);
    let output = client
        .get_object()
        .bucket(&location.bucket)
        .key(&location.key)
        .send()
        .await
        .map_err(|error| {
            let error = ops_adapters::error::AwsCallError::from_sdk("GetObject", &error);
            if error.is_transient() {
                ArtifactError::Unavailable {
                    artifact: name.clone(),
                    message: error.to_string(),
                }
            } else {
                ArtifactError::Refused {
                    artifact: name.clone(),
                    message: error.to_string(),
                }
            }
        })?;
    let bytes = output
        .body
        .collect()
        .await
        .map_err(|error| ArtifactError::Unavailable {
            artifact: name.clone(),
            message: ops_adapters::error::bounded(
                &error.to_string(),
                ops_adapters::error::MAX_MESSAGE,
            ),
        })?
        .into_bytes();
    image_from_zip(&bytes, container).map_err(|message| ArtifactError::Invalid {
        artifact: name,
        message,
    })
}

/// The image for `container` in an artifact zip.
pub fn image_from_zip(bytes: &[u8], container: &str) -> Result<String, String> {
    if bytes.len() > MAX_ARTIFACT_BYTES {
        return Err(format!("is larger than {MAX_ARTIFACT_BYTES} bytes"));
    }
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|error| format!("is not a zip: {error}"))?;
    let mut read = |name: &str| -> Result<Option<Vec<u8>>, String> {
        let index = (0..archive.len()).find(|&i| {
            archive
                .name_for_index(i)
                .is_some_and(|entry| entry.is_ok_and(|e| e.rsplit('/').next() == Some(name)))
        });
        let Some(index) = index else {
            return Ok(None);
        };
        let mut file = archive
            .by_index(index)
            .map_err(|error| format!("{name}: {error}"))?;
        let mut text = Vec::new();
        file.by_ref()
            .take(1024 * 1024)
            .read_to_end(&mut text)
            .map_err(|error| format!("{name}: {error}"))?;
        Ok(Some(text))
    };
    if let Some(text) = read("imagedefinitions.json")? {
        let images = image_definitions(&text)?;
        if let Some(image) = images.get(container) {
            return Ok(image.clone());
        }
        if images.len() == 1 {
            if let Some(image) = images.values().next() {
                return Ok(image.clone());
            }
        }
        let names: Vec<&str> = images.keys().map(String::as_str).collect();
        return Err(format!(
            "imagedefinitions.json has no entry for container \"{container}\" (has {names:?})"
        ));
    }
    if let Some(text) = read("imageDetail.json")? {
        return image_detail(&text);
    }
    Err("holds neither imagedefinitions.json nor imageDetail.json".into())
}

/// A zip holding one file, for tests, the demo and the events in `events/`.
pub fn zip_with(name: &str, content: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut buffer = Cursor::new(Vec::new());
    {
        let mut writer = zip::ZipWriter::new(&mut buffer);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        // Writing to memory cannot fail short of allocation failure.
        let _ = writer.start_file(name, options);
        let _ = writer.write_all(content);
        let _ = writer.finish();
    }
    buffer.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_standard_files() {
        let defs = zip_with(
            "imagedefinitions.json",
            br#"[{"name":"app","imageUri":"r/app:1.5.0"},{"name":"sidecar","imageUri":"r/envoy:1.2"}]"#,
        );
        assert_eq!(image_from_zip(&defs, "app").expect("ok"), "r/app:1.5.0");
        assert!(image_from_zip(&defs, "web")
            .expect_err("fails")
            .contains("no entry for container"));
        let detail = zip_with("imageDetail.json", br#"{"ImageURI":"r/app:2.0.0"}"#);
        assert_eq!(image_from_zip(&detail, "app").expect("ok"), "r/app:2.0.0");
        let other = zip_with("README", b"hi");
        assert!(image_from_zip(&other, "app")
            .expect_err("fails")
            .contains("neither"));
        assert!(image_from_zip(b"not a zip", "app")
            .expect_err("fails")
            .contains("not a zip"));
    }
}
