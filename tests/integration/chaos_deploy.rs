//! deploy-hook under faults: a canary deployment driven the way CodePipeline drives it
//! (continuation tokens; a failed job followed by a retry of the stage as a new job without a
//! token), with the function's AWS calls going through the fault proxy.
