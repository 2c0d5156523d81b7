//! The claims table: filtered as you type and sorted in the browser (no round trip), updated in
//! place by the page's poll. Rows are keyed by their content, so a poll re-renders only rows
//! whose numbers changed; filter, sort and an open confirmation live outside the rows and survive.

use std::cmp::Ordering;

use leptos::prelude::*;
use rust_decimal::Decimal;

use super::live::Page;
use crate::admin::{disable_key, retry_binding, rotate_key, AdminRow};
use crate::claim::provider_label;
use crate::ui::{format_usd, LocalTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Name,
    Email,
    Provider,
    Claimed,
    Usage,
    Expires,
    State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RowAction {
    Disable,
    Rotate,
}

/// The row's key state in one word, as shown and as filtered on.
pub fn state_word(row: &AdminRow) -> &'static str {
    match row {
        r if !r.minted => "minting",
        r if r.disabled => "disabled",
        r if r.bound => "bound",
        _ => "unbound",
    }
}

fn matches(row: &AdminRow, needle: &str) -> bool {
    needle.is_empty()
        || [row.name.as_str(), &row.email, &provider_label(&row.provider), &row.key_label, state_word(row)]
            .iter()
            .any(|field| field.to_lowercase().contains(needle))
}

fn compare(a: &AdminRow, b: &AdminRow, column: Column) -> Ordering {
    match column {
        Column::Name => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
        Column::Email => a.email.to_lowercase().cmp(&b.email.to_lowercase()),
        Column::Provider => a.provider.cmp(&b.provider),
        Column::Claimed => a.claimed_at.cmp(&b.claimed_at),
        Column::Usage => a.usage_usd.cmp(&b.usage_usd),
        Column::Expires => a.expires_at.cmp(&b.expires_at),
        Column::State => state_word(a).cmp(state_word(b)),
    }
    .then_with(|| a.claimed_at.cmp(&b.claimed_at))
}

#[component]
pub(super) fn AttendanceTable(page: Page) -> impl IntoView {
    let filter = RwSignal::new(String::new());
    let sort = RwSignal::new((Column::Claimed, false));
    let confirming = RwSignal::new(None::<(String, RowAction)>);
    let total_rows = move || page.data.with(|d| d.rows.len());
    let shown = Memo::new(move |_| {
        let needle = filter.get().trim().to_lowercase();
        let (column, descending) = sort.get();
        let mut rows: Vec<AdminRow> =
            page.data.with(|d| d.rows.iter().filter(|r| matches(r, &needle)).cloned().collect());
        rows.sort_by(|a, b| if descending { compare(b, a, column) } else { compare(a, b, column) });
        rows
    });
    let header = move |column: Column, label: &'static str, numeric: bool| {
        let aria_sort = move || match sort.get() {
            (c, false) if c == column => "ascending",
            (c, true) if c == column => "descending",
            _ => "none",
        };
        let click = move |_| {
            sort.update(|(c, desc)| (*c, *desc) = if *c == column { (column, !*desc) } else { (column, false) })
        };
        view! {
            <th scope="col" class:num=numeric aria-sort=aria_sort>
                <button type="button" class="sort" on:click=click>
                    {label}
                    <span aria-hidden="true">
                        {move || match aria_sort() { "ascending" => " ▲", "descending" => " ▼", _ => "" }}
                    </span>
                </button>
            </th>
        }
        .into_any()
    };
    view! {
        <section class="attendance">
            <h2>"Claims"</h2>
            <label class="filter">
                "Filter "
                <input
                    type="search"
                    placeholder="name, email, provider, unbound…"
                    data-testid="admin-filter"
                    prop:value=move || filter.get()
                    on:input=move |ev| filter.set(event_target_value(&ev))
                />
            </label>
            <div class="table-scroll" role="region" aria-label="Claims table" tabindex="0">
                <table class="admin-table" data-testid="admin-table">
                    <thead>
                        <tr>
                            {header(Column::Name, "Name", false)}
                            {header(Column::Email, "Email", false)}
                            {header(Column::Provider, "Sign-in", false)}
                            {header(Column::Claimed, "Claimed", false)}
                            {header(Column::Usage, "Usage", true)}
                            {header(Column::Expires, "Expires", false)}
                            {header(Column::State, "Key", false)}
                            <th scope="col">"Last sync"</th>
                            <th scope="col">"Actions"</th>
                        </tr>
                    </thead>
                    <tbody>
                        <For each=move || shown.get() key=|row| row.clone() let:row>
                            <Row row page confirming/>
                        </For>
                    </tbody>
                    <tfoot>
                        <Totals shown total_rows=Signal::derive(total_rows)/>
                    </tfoot>
                </table>
            </div>
        </section>
    }
    .into_any()
}

#[component]
fn Totals(shown: Memo<Vec<AdminRow>>, total_rows: Signal<usize>) -> impl IntoView {
    let sum = move |f: fn(&AdminRow) -> Decimal| shown.with(|rows| rows.iter().map(f).sum::<Decimal>());
    let count = move |word: &'static str| shown.with(|rows| rows.iter().filter(|r| state_word(r) == word).count());
    view! {
        <tr data-testid="admin-totals">
            <th scope="row" colspan="4">
                {move || format!("Totals: {} of {} rows", shown.with(Vec::len), total_rows.get())}
            </th>
            <td class="num">
                {move || format!("{} of {}", format_usd(sum(|r| r.usage_usd)), format_usd(sum(|r| r.limit_usd)))}
            </td>
            <td></td>
            <td colspan="3">
                {move || format!("{} bound · {} unbound · {} disabled", count("bound"), count("unbound"), count("disabled"))}
            </td>
        </tr>
    }
    .into_any()
}

#[component]
fn Row(row: AdminRow, page: Page, confirming: RwSignal<Option<(String, RowAction)>>) -> impl IntoView {
    let word = state_word(&row);
    let used = row.usage_usd.min(row.limit_usd);
    let user_id = StoredValue::new(row.user_id.clone());
    let asking =
        move |action| confirming.with(|c| c.as_ref().is_some_and(|(id, a)| *a == action && *id == user_id.get_value()));
    let ask = move |action| confirming.set(Some((user_id.get_value(), action)));
    let cancel = move |_| confirming.set(None);
    let confirm = move |action: RowAction| {
        confirming.set(None);
        let (slug, id) = (page.slug.get_value(), user_id.get_value());
        match action {
            RowAction::Disable => page.run(|()| "Key disabled.".into(), disable_key(slug, id)),
            RowAction::Rotate => {
                page.run(|()| "Key rotated: the attendee's page shows the new one.".into(), rotate_key(slug, id))
            }
        }
    };
    let retry = move |_| {
        page.run(|()| "Key bound to the guardrail.".into(), retry_binding(page.slug.get_value(), user_id.get_value()))
    };
    let (minted, bound, disabled) = (row.minted, row.bound, row.disabled);
    // Screen readers hear whose key each button acts on.
    let named = StoredValue::new(row.name.clone());
    let label = move |action: &str| format!("{action}: {}", named.get_value());
    view! {
        <tr data-testid="admin-row" data-state=word>
            <td>{row.name.clone()}</td>
            <td>{row.email.clone()}</td>
            <td>{provider_label(&row.provider)}</td>
            <td><LocalTime at=row.claimed_at zone=0/></td>
            <td class="num usage-cell">
                <progress max=row.limit_usd.to_string() value=used.to_string() aria-label="Budget used"></progress>
                <span data-testid="row-usage">{format!("{} of {}", format_usd(row.usage_usd), format_usd(row.limit_usd))}</span>
            </td>
            <td><LocalTime at=row.expires_at zone=0/></td>
            <td><span class=format!("state {word}")>{word}</span></td>
            <td>
                {match row.synced_at {
                    Some(at) => view! { <LocalTime at zone=0/> }.into_any(),
                    None => "never".into_any(),
                }}
            </td>
            <td>
                <div class="row-actions">
                {move || {
                    if asking(RowAction::Disable) || asking(RowAction::Rotate) {
                        let action = if asking(RowAction::Disable) { RowAction::Disable } else { RowAction::Rotate };
                        let question = match action {
                            RowAction::Disable => "Disable this key? It stops working at once.",
                            RowAction::Rotate => "Rotate? The old key stops working; a new one gets what is left of the budget.",
                        };
                        return view! {
                            <span class="confirm">{question}</span>
                            <button type="button" class="danger" on:click=move |_| confirm(action)>"Yes"</button>
                            <button type="button" class="secondary" on:click=cancel>"Cancel"</button>
                        }
                        .into_any();
                    }
                    let busy = move || page.busy.get();
                    view! {
                        {(minted && !bound && !disabled).then(|| view! {
                            <button type="button" class="secondary" on:click=retry disabled=busy aria-label=label("Retry binding")>
                                "Retry binding"
                            </button>
                        })}
                        {(minted && !disabled).then(|| view! {
                            <button
                                type="button"
                                class="secondary"
                                on:click=move |_| ask(RowAction::Disable)
                                disabled=busy
                                aria-label=label("Disable key")
                            >
                                "Disable key"
                            </button>
                        })}
                        {minted.then(|| view! {
                            <button
                                type="button"
                                class="secondary"
                                on:click=move |_| ask(RowAction::Rotate)
                                disabled=busy
                                aria-label=label("Rotate key")
                            >
                                "Rotate key"
                            </button>
                        })}
                    }
                    .into_any()
                }}
                </div>
            </td>
        </tr>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, email: &str, usage: i64, bound: bool, disabled: bool) -> AdminRow {
        AdminRow {
            user_id: format!("dev|{email}"),
            name: name.into(),
            email: email.into(),
            provider: "github".into(),
            claimed_at: chrono::Utc::now(),
            minted: true,
            usage_usd: Decimal::new(usage, 2),
            limit_usd: Decimal::new(200, 2),
            expires_at: chrono::Utc::now(),
            bound,
            disabled,
            synced_at: None,
            key_label: "demo-abc".into(),
        }
    }

    #[test]
    fn filter_matches_any_visible_field_case_insensitively() {
        let ada = row("Ada Lovelace", "ada@example.org", 10, true, false);
        let bob = row("Bob", "bob@corp.example", 0, false, false);
        assert!(matches(&ada, "lovelace"));
        assert!(matches(&bob, "corp"));
        assert!(matches(&bob, "unbound") && !matches(&ada, "unbound"));
        assert!(matches(&ada, "github"), "the provider as shown");
        assert!(!matches(&ada, "bob"));
        assert!(matches(&ada, ""));
    }

    #[test]
    fn sorting_by_usage_orders_numbers_not_text() {
        let a = row("A", "a@x.org", 900, true, false);
        let b = row("B", "b@x.org", 1000, true, false);
        assert_eq!(compare(&a, &b, Column::Usage), Ordering::Less, "$9.00 < $10.00");
        assert_eq!(compare(&a, &b, Column::Name), Ordering::Less);
    }
}
