//! The Telegram sender: outgoing messages, one paced queue per chat.
//!
//! A handler (or the delivery worker) puts what it has to say in the chat's queue and goes
//! on; a task per chat with something queued sends it in order, waiting for the pacing
//! ([`SendLimits`]) and for Telegram's 429 `retry_after` without holding anyone else: one
//! slow or noisy chat never delays another chat's messages. The task ends when its queue
//! is empty.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use teloxide::RequestError;
use teloxide::prelude::*;
use teloxide::types::{ChatId, InlineKeyboardMarkup, MessageId, ReplyMarkup};
use tokio::sync::oneshot;

mod limits;

pub use limits::SendLimits;

/// Tries of one message when Telegram answers 429.
const TRIES: u32 = 3;

/// Longest `retry_after` waited for one message.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Something to do in a chat, in order with everything else queued for it.
#[derive(Debug)]
pub enum Op {
    /// Send a message.
    Send {
        /// Text.
        text: String,
        /// Keyboard.
        markup: Option<ReplyMarkup>,
        /// The text is Telegram HTML (else plain text).
        html: bool,
        /// Told how it went, when someone waits for it.
        done: Option<oneshot::Sender<Result<(), RequestError>>>,
    },
    /// Replace the text (and inline keyboard) of a message; if that fails, send it anew.
    Edit {
        /// The message.
        message: MessageId,
        /// New text.
        text: String,
        /// New inline keyboard.
        keyboard: Option<InlineKeyboardMarkup>,
    },
    /// Remove a message's inline keyboard.
    ClearKeyboard {
        /// The message.
        message: MessageId,
    },
}

/// The queues.
pub struct Outbound {
    bot: Bot,
    limits: Arc<SendLimits>,
    queues: Mutex<HashMap<i64, VecDeque<Op>>>,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound").finish_non_exhaustive()
    }
}

impl Outbound {
    /// Queues for `bot`, paced by `limits`.
    pub fn new(bot: Bot, limits: Arc<SendLimits>) -> Arc<Self> {
        Arc::new(Self {
            bot,
            limits,
            queues: Mutex::new(HashMap::new()),
        })
    }

    /// Queues `op` for `chat`; returns at once.
    pub fn push(self: &Arc<Self>, chat: ChatId, op: Op) {
        let start = {
            let mut queues = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
            match queues.get_mut(&chat.0) {
                // A task is draining this chat's queue; it will get to `op`.
                Some(queue) => {
                    queue.push_back(op);
                    false
                }
                None => {
                    queues.insert(chat.0, VecDeque::from([op]));
                    true
                }
            }
        };
        if start {
            let this = self.clone();
            tokio::spawn(async move { this.drain(chat).await });
        }
    }

    /// Queues a message for `chat`, without waiting for it.
    pub fn say(self: &Arc<Self>, chat: ChatId, text: String, markup: Option<ReplyMarkup>) {
        self.push(
            chat,
            Op::Send {
                text,
                markup,
                html: false,
                done: None,
            },
        );
    }

    /// Queues a message for `chat` and waits until it was sent (after everything queued
    /// before it).
    ///
    /// # Errors
    ///
    /// Telegram's last answer when it could not be sent.
    pub async fn send(
        self: &Arc<Self>,
        chat: ChatId,
        text: String,
        markup: Option<ReplyMarkup>,
    ) -> Result<(), RequestError> {
        self.send_as(chat, text, markup, false).await
    }

    /// Sends a message of Telegram HTML through the chat's queue and waits until it is
    /// sent or has failed.
    ///
    /// # Errors
    ///
    /// Telegram's last answer when it could not be sent.
    pub async fn send_html(
        self: &Arc<Self>,
        chat: ChatId,
        html: String,
        markup: Option<ReplyMarkup>,
    ) -> Result<(), RequestError> {
        self.send_as(chat, html, markup, true).await
    }

    async fn send_as(
        self: &Arc<Self>,
        chat: ChatId,
        text: String,
        markup: Option<ReplyMarkup>,
        html: bool,
    ) -> Result<(), RequestError> {
        let (done, sent) = oneshot::channel();
        self.push(
            chat,
            Op::Send {
                text,
                markup,
                html,
                done: Some(done),
            },
        );
        sent.await.unwrap_or_else(|_| {
            Err(RequestError::Io(
                std::io::Error::other("send queue dropped").into(),
            ))
        })
    }

    /// Sends what is queued for `chat`, in order, until the queue is empty.
    async fn drain(&self, chat: ChatId) {
        loop {
            let op = {
                let mut queues = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
                let next = queues.get_mut(&chat.0).and_then(VecDeque::pop_front);
                if next.is_none() {
                    queues.remove(&chat.0);
                }
                next
            };
            let Some(op) = op else { return };
            self.perform(chat, op).await;
        }
    }

    async fn perform(&self, chat: ChatId, op: Op) {
        match op {
            Op::Send {
                text,
                markup,
                html,
                done,
            } => {
                let sent = self.send_now(chat, &text, markup, html).await;
                if let Err(e) = &sent {
                    tracing::warn!(chat.id = chat.0, error.message = %e, "sendMessage failed");
                }
                if let Some(done) = done {
                    let _ = done.send(sent);
                }
            }
            Op::Edit {
                message,
                text,
                keyboard,
            } => {
                self.limits.wait(chat.0).await;
                let mut edit = self.bot.edit_message_text(chat, message, text.clone());
                if let Some(kb) = keyboard.clone() {
                    edit = edit.reply_markup(kb);
                }
                if edit.await.is_err() {
                    let markup = keyboard.map(ReplyMarkup::InlineKeyboard);
                    if let Err(e) = self.send_now(chat, &text, markup, false).await {
                        tracing::warn!(chat.id = chat.0, error.message = %e, "sendMessage failed");
                    }
                }
            }
            Op::ClearKeyboard { message } => {
                self.limits.wait(chat.0).await;
                let _ = self.bot.edit_message_reply_markup(chat, message).await;
            }
        }
    }

    /// Sends a message, waiting out Telegram's 429 `retry_after` (up to [`TRIES`] tries,
    /// at most [`MAX_RETRY_AFTER`] each).
    async fn send_now(
        &self,
        chat: ChatId,
        text: &str,
        markup: Option<ReplyMarkup>,
        html: bool,
    ) -> Result<(), RequestError> {
        let mut tries = 0;
        loop {
            tries += 1;
            self.limits.wait(chat.0).await;
            let mut request = self.bot.send_message(chat, text);
            if let Some(m) = markup.clone() {
                request = request.reply_markup(m);
            }
            if html {
                request = request.parse_mode(teloxide::types::ParseMode::Html);
            }
            match request.await {
                Ok(_) => return Ok(()),
                Err(RequestError::RetryAfter(wait)) if tries < TRIES => {
                    self.limits.too_many_requests.inc();
                    let wait = wait.duration().min(MAX_RETRY_AFTER);
                    tracing::warn!(
                        chat.id = chat.0,
                        wait_secs = wait.as_secs(),
                        "Telegram rate limit; waiting"
                    );
                    tokio::time::sleep(wait).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
}
