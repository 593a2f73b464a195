//! Integration tests of the ops suite against the local AWS emulator (moto server), started by
//! the test process itself. One test binary; shared helpers in `util`.

mod adapters_ecs_tasks;
mod adapters_lambda;
mod adapters_metrics;
mod alarm_rollback;
mod architecture;
mod backup;
mod backup_ecs;
mod backup_operator;
mod backup_recovery;
mod backup_route53;
mod backup_secrets;
mod browser;
mod chaos_alarm;
mod chaos_analysis;
mod chaos_backup;
mod chaos_cost;
mod chaos_deploy;
mod cost_check;
mod deploy_ecs_hook;
mod deploy_hook;
mod deploy_metrics;
mod faults;
mod leaks;
mod least_privilege;
mod operator;
mod slack;
mod util;
