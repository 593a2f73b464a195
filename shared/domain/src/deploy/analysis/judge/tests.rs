//! Tables of the baseline judge.
