//! One module per page.

mod admin;
mod home;
mod not_found;
mod projector;
mod workshop;

pub use admin::{AdminOverviewPage, AdminWorkshopPage};
pub use home::HomePage;
pub use not_found::NotFound;
pub use projector::ProjectorPage;
pub use workshop::WorkshopPage;
