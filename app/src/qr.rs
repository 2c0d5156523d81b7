//! QR codes as inline SVG, rendered on the server (black on white, readable in both themes).

use qrcode::render::svg;

pub fn svg(text: &str) -> Result<String, qrcode::types::QrError> {
    let code = qrcode::QrCode::new(text.as_bytes())?;
    let svg = code
        .render::<svg::Color>()
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .quiet_zone(true)
        .build();
    // Inline in the page: the XML declaration has no place there.
    Ok(svg.split_once("?>").map_or(svg.as_str(), |(_, element)| element).trim().to_string())
}
