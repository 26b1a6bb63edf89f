//! The teloxide peer of the intake benchmark (`bench/`, `BENCHMARKS.md`): the
//! device-malfunction intake written the way teloxide's own examples write a bot, with
//! the same steps, validations, texts and buttons as the aiogram peer, so the same
//! synthetic users drive it.
//!
//! Environment: `TELOXIDE_TOKEN`, `TELEGRAM_API_URL`, `OMNIDESK_URL`, `OMNIDESK_EMAIL`,
//! `OMNIDESK_API_KEY`, `REDIS_URL`, `BOT_REDIS_PREFIX` (prefix of the remembered
//! identification; teloxide's `RedisStorage` keys dialogues by bare chat id).

mod handlers;
mod intake;
mod omnidesk;
mod texts;

use std::sync::Arc;

use teloxide::dispatching::dialogue::{RedisStorage, serializer::Json};
use teloxide::prelude::*;
use teloxide::utils::command::BotCommands;

use crate::handlers::Command;
use crate::omnidesk::Services;

#[tokio::main]
async fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    log::info!("Starting the teloxide peer...");

    let mut bot = Bot::from_env();
    if let Ok(url) = std::env::var("TELEGRAM_API_URL") {
        bot = bot.set_api_url(url.parse().expect("TELEGRAM_API_URL is not a URL"));
    }
    let redis_url =
        std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let storage = RedisStorage::open(&redis_url, Json)
        .await
        .expect("cannot open the dialogue storage at REDIS_URL");
    let services = Arc::new(
        Services::from_env(&redis_url)
            .await
            .expect("cannot set up Redis and Omnidesk"),
    );
    if let Err(e) = bot.set_my_commands(Command::bot_commands()).await {
        log::warn!("setMyCommands failed: {e}");
    }

    Dispatcher::builder(bot, handlers::schema())
        .dependencies(dptree::deps![storage, services])
        .enable_ctrlc_handler()
        .build()
        .dispatch()
        .await;
}
