// A small map of where an alarm was: Leaflet (vendored in static/vendor/leaflet), tiles from
// LW_MAP_TILES. Decorative beside the words of the card, so hidden from screen readers and
// holding nothing that takes focus. With no tiles (set to "none", or none load) it is still
// a map: the marker and the accuracy circle on a plain background, saying so.
"use strict";

(() => {
  const { el } = LW;
  const MAX_ZOOM = 17;

  function draw(box, where, caption) {
    const settings = (LW.session && LW.session.map) || {};
    const at = [Number(where.lat), Number(where.lon)];
    const map = L.map(box, {
      zoomControl: false, keyboard: false, dragging: false, scrollWheelZoom: false, doubleClickZoom: false,
      boxZoom: false, touchZoom: false, tap: false, attributionControl: false, zoomSnap: 0.5,
    });
    let loaded = false;
    const coords = `${at[0].toFixed(5)}, ${at[1].toFixed(5)}${where.acc ? ` ± ${Math.round(where.acc)} m` : ""}`;
    const say = (words) => { caption.textContent = words ? `${coords} · ${words}` : coords; };
    const noTiles = () => { box.classList.add("no-tiles"); say("map tiles unavailable"); };
    if (settings.tiles) {
      const tiles = L.tileLayer(settings.tiles, { maxZoom: 19 });
      tiles.on("tileload", () => { loaded = true; box.classList.remove("no-tiles"); say(settings.attribution); });
      tiles.on("tileerror", () => { if (!loaded) noTiles(); });
      tiles.addTo(map);
      say(settings.attribution);
    } else {
      noTiles();
    }
    // The view first: layers added to a map with no view wait, and cannot measure.
    if (where.acc) map.fitBounds(L.latLng(at).toBounds(2 * Number(where.acc)), { maxZoom: MAX_ZOOM, padding: [12, 12] });
    else map.setView(at, MAX_ZOOM - 1);
    L.Icon.Default.imagePath = "/console/static/vendor/leaflet/images/";
    L.marker(at, { interactive: false, keyboard: false, alt: "" }).addTo(map);
    if (where.acc) L.circle(at, { radius: Number(where.acc), interactive: false, weight: 1, className: "map-accuracy" }).addTo(map);
    return map;
  }

  // The map for a location {lat, lon, acc}; null when there is no position to show.
  // Leaflet needs the box laid out, so it draws once the box is in the page.
  function alertMap(where) {
    if (!where || where.lat == null || where.lon == null || typeof L === "undefined") return null;
    const box = el("div", { class: "map-box" });
    const caption = el("figcaption", { class: "map-caption" });
    const figure = el("figure", {
      class: "alert-map", "aria-hidden": "true",
      "data-where": `${where.lat},${where.lon},${where.acc || ""}`,
    }, box, caption);
    let map = null;
    const watch = new ResizeObserver(() => {
      if (!box.isConnected) { watch.disconnect(); if (map) map.remove(); return; }
      if (!box.clientWidth) return;
      if (map) { map.invalidateSize(); return; }
      map = draw(box, where, caption);
      figure.lwMap = map; // for the browser tests: where the map is centred
    });
    watch.observe(box);
    return figure;
  }

  // A card rebuilt for other news keeps its drawn map when the place is the same: no flicker
  // of a fresh map each time a message's status arrives.
  function keepMap(from, to) {
    const before = from && from.querySelector(".alert-map");
    const after = to.querySelector(".alert-map");
    if (before && after && before.dataset.where === after.dataset.where) after.replaceWith(before);
  }

  LW.alertMap = alertMap;
  LW.keepMap = keepMap;
})();
