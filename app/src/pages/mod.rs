//! One module per page.

mod home;
mod not_found;
mod workshop;

pub use home::HomePage;
pub use not_found::NotFound;
pub use workshop::WorkshopPage;
