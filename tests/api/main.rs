//! Integration tests: the real gateway on port 0, a fresh database per test (SQLite, or
//! PostgreSQL when `TEST_DATABASE_URL` is set), partners as real HTTP servers in the test.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin;
mod admin_actions;
mod admin_list;
mod agencies;
mod audit;
mod browser;
mod catalogue;
mod clock;
mod codes;
mod connections;
mod contention;
mod demo;
mod documents;
mod evidence;
mod expiry;
mod fees;
mod fetch_process;
mod fuzz;
mod helpers;
mod hostile;
mod indicators;
mod intake;
mod lienthong;
mod lienthong_flow;
mod lienthong_guard;
mod lienthong_kill;
mod lienthong_reports;
mod lifecycle;
mod officer_browser;
mod openapi;
mod operators;
mod outbox;
mod pages;
mod payments;
mod peers;
mod process;
mod read_api;
mod receipt;
mod sims;
mod soak;
mod versions;
mod webdriver;
