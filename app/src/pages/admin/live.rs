//! What the controls and the table of `/admin/w/{slug}` share in the browser: the data, the poll
//! that refreshes it (never two at once), and the notice line.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::admin::{poll_admin_workshop, AdminError, AdminPoll, AdminSummary, AdminWorkshop};

/// The outcome of the last button pressed, shown above the table.
#[derive(Clone)]
pub enum Notice {
    Done(String),
    Failed(String),
}

/// What every control shares: the data, a way to reload it, and the notice line.
#[derive(Clone, Copy)]
pub struct Page {
    pub slug: StoredValue<String>,
    pub data: RwSignal<AdminWorkshop>,
    /// The rows came from a poll (until then the server's static table is shown).
    pub live: RwSignal<bool>,
    /// The version of `data`, sent with the next poll.
    version: StoredValue<Option<String>>,
    /// A poll is in flight: another never overlaps it; one asked for meanwhile follows it.
    polling: StoredValue<bool>,
    again: StoredValue<bool>,
    pub notice: RwSignal<Option<Notice>>,
    pub busy: RwSignal<bool>,
}

impl Page {
    pub fn new(summary: AdminSummary) -> Self {
        Page {
            slug: StoredValue::new(summary.slug.clone()),
            data: RwSignal::new(AdminWorkshop { summary, rows: Vec::new() }),
            live: RwSignal::new(false),
            version: StoredValue::new(None),
            polling: StoredValue::new(false),
            again: StoredValue::new(false),
            notice: RwSignal::new(None),
            busy: RwSignal::new(false),
        }
    }

    /// Asks for the stored data, which comes back only if it changed (the poll, and after every
    /// action). Never two at once.
    pub fn reload(self) {
        if self.polling.get_value() {
            self.again.set_value(true);
            return;
        }
        self.polling.set_value(true);
        spawn_local(async move {
            loop {
                let (slug, since) = (self.slug.get_value(), self.version.get_value());
                if let Ok(AdminPoll::Changed { version, data }) = poll_admin_workshop(slug, since).await {
                    self.version.set_value(Some(version));
                    self.data.set(data);
                    // Once: setting it again would build the table anew (and lose its filter).
                    if !self.live.get_untracked() {
                        self.live.set(true);
                    }
                }
                // An action finished while this poll was out: its result may have missed it.
                if !self.again.get_value() {
                    break;
                }
                self.again.set_value(false);
            }
            self.polling.set_value(false);
        });
    }

    /// Runs an admin server function, then says how it went and reloads.
    pub fn run<T: 'static>(
        self,
        done: impl FnOnce(T) -> String + 'static,
        action: impl std::future::Future<Output = Result<T, AdminError>> + 'static,
    ) {
        self.busy.set(true);
        spawn_local(async move {
            let notice = match action.await {
                Ok(value) => Notice::Done(done(value)),
                Err(e) => Notice::Failed(e.to_string()),
            };
            self.notice.set(Some(notice));
            self.busy.set(false);
            self.reload();
        });
    }
}
