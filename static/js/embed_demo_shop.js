/* The debug-only demo shop (templates/embed/demo_shop.html): what a brand's own page does with
 * the embedded player. It logs every event the player sends, drives it with Play / Pause and an
 * "open product" link, and, when the brand keeps its own cart, counts what "Add to cart" handed
 * over. window.demoShop is the test hook (tests/test_embed_browser.py). */
(function () {
  "use strict";
  var log = document.getElementById("shop-log");
  var count = document.getElementById("shop-cart-count");
  var shop = (window.demoShop = { events: [], cart: [] });
  var TYPES = ["ready", "player.state", "product.shown", "product.clicked", "product.opened", "cart.add", "checkout.done", "error"];

  function player() {
    var el = document.querySelector(".liveshop-embed");
    return el && el.liveshop;
  }

  TYPES.forEach(function (type) {
    document.addEventListener("liveshop:" + type, function (event) {
      var detail = event.detail || {};
      shop.events.push(detail);
      var item = document.createElement("li");
      var product = detail.product ? " " + detail.product.name + " (" + (detail.sku || detail.product.sku) + ")" : "";
      item.textContent = type + product + (detail.reason ? " " + detail.reason : "");
      log.prepend(item);
      if (type === "cart.add" && detail.ownCart) {
        shop.cart.push({ sku: detail.sku, quantity: detail.quantity });
        count.textContent = String(shop.cart.length);
      }
    });
  });
  document.getElementById("shop-play").addEventListener("click", function () { if (player()) player().play(); });
  document.getElementById("shop-pause").addEventListener("click", function () { if (player()) player().pause(); });
})();
