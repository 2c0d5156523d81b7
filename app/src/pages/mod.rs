//! One module per page.

mod home;
mod not_found;
mod projector;
mod workshop;

pub use home::HomePage;
pub use not_found::NotFound;
pub use projector::ProjectorPage;
pub use workshop::WorkshopPage;
