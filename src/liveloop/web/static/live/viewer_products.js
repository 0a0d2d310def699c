/* LiveLoop viewer page, products: the line-up drawer, the pushed product card (上链接), live
 * stock, and the Buy buttons. Names and texts go in with textContent only.
 *
 * window.LiveLoopProducts(options) with options.t (texts), options.toast(message) and
 * options.onBuy(product, skuId) returns {setLineup, setPushed, unpush, applyStock}.
 */
(function () {
  "use strict";

  var $ = function (id) { return document.getElementById(id); };

  function format(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_, name) {
      return values[name] === undefined ? "" : String(values[name]);
    });
  }

  window.LiveLoopProducts = function (options) {
    var t = options.t;
    var my = { lineup: [], product: null, selectedSku: null };

    function money(fen) {
      if (fen === null || fen === undefined) return "";
      var sign = fen < 0 ? "-" : "";
      var value = Math.abs(Math.round(fen));
      var cents = value % 100;
      return sign + "¥" + Math.floor(value / 100) + "." + (cents < 10 ? "0" : "") + cents;
    }

    function priceText(product) {
      var low = product.price_min_fen, high = product.price_max_fen;
      if (low !== undefined && high !== undefined && low !== high) return money(low) + " – " + money(high);
      return money(product.price_fen !== undefined ? product.price_fen : low);
    }

    function stockText(stock) {
      if (stock === null || stock === undefined) return "";
      return stock > 0 ? format(t.stock_left, { stock: stock }) : t.sold_out;
    }

    function productStock(product) {
      if (Array.isArray(product.skus) && product.skus.length) {
        return product.skus.reduce(function (sum, sku) { return sum + Math.max(0, sku.stock || 0); }, 0);
      }
      return product.stock;
    }

    function setLineup(products) {
      my.lineup = products.slice();
      renderLineup();
    }

    function renderLineup() {
      var list = $("lineup");
      var template = $("lineup-item");
      list.textContent = "";
      my.lineup.forEach(function (product, index) {
        var node = template.content.firstElementChild.cloneNode(true);
        node.dataset.productId = String(product.id);
        node.classList.toggle("current", !!(my.product && my.product.id === product.id));
        node.querySelector(".lineup-index").textContent = String(index + 1);
        var image = node.querySelector(".lineup-image");
        if (product.image_url) image.src = product.image_url;
        else image.hidden = true;
        node.querySelector(".lineup-name").textContent = product.name;
        node.querySelector(".lineup-subtitle").textContent = product.subtitle || "";
        node.querySelector(".price").textContent = priceText(product);
        var stock = productStock(product);
        node.querySelector(".stock").textContent = stockText(stock);
        var buy = node.querySelector(".buy-button");
        var offShelf = product.on_shelf === false;
        buy.textContent = offShelf ? t.not_on_sale : stock === 0 ? t.sold_out : t.buy;
        buy.disabled = offShelf || stock === 0;
        buy.addEventListener("click", function () { buy(product, null); });
        list.appendChild(node);
      });
      $("bag-count").textContent = String(my.lineup.length);
      $("lineup-empty").hidden = my.lineup.length > 0;
    }

    function setPushed(product) {
      my.product = product || null;
      my.selectedSku = null;
      var card = $("pushed");
      if (!product) {
        card.hidden = true;
        renderLineup();
        return;
      }
      var image = $("pushed-image");
      if (product.image_url) { image.src = product.image_url; image.hidden = false; } else { image.hidden = true; }
      $("pushed-name").textContent = product.name;
      var skus = $("pushed-skus");
      skus.textContent = "";
      var choices = (product.skus || []).filter(function (sku) { return sku.name; });
      if (choices.length > 1) {
        choices.forEach(function (sku) {
          var chip = document.createElement("button");
          chip.type = "button";
          chip.className = "sku-chip";
          chip.dataset.skuId = String(sku.id);
          chip.textContent = sku.name;
          chip.addEventListener("click", function () {
            my.selectedSku = my.selectedSku === sku.id ? null : sku.id;
            updatePushed();
          });
          skus.appendChild(chip);
        });
      } else if (product.skus && product.skus.length === 1) {
        my.selectedSku = product.skus[0].id;
      }
      card.hidden = false;
      card.classList.remove("pop");
      void card.offsetWidth;
      card.classList.add("pop");
      updatePushed();
      mergeIntoLineup(product);
    }

    function updatePushed() {
      var product = my.product;
      if (!product) return;
      var sku = (product.skus || []).filter(function (s) { return s.id === my.selectedSku; })[0];
      $("pushed-price").textContent = sku ? money(sku.price_fen) : priceText(product);
      var stock = sku ? sku.stock : productStock(product);
      $("pushed-stock").textContent = stockText(stock);
      $("pushed-stock").dataset.stock = String(stock);
      var buy = $("pushed-buy");
      buy.disabled = stock === 0;
      buy.textContent = stock === 0 ? t.sold_out : t.buy;
      $("pushed-skus").querySelectorAll(".sku-chip").forEach(function (chip) {
        chip.classList.toggle("selected", Number(chip.dataset.skuId) === my.selectedSku);
      });
    }

    function mergeIntoLineup(product) {
      var found = false;
      my.lineup = my.lineup.map(function (item) {
        if (item.id !== product.id) return item;
        found = true;
        return product;
      });
      if (!found) my.lineup.push(product);
      renderLineup();
    }

    function applyStock(msg) {
      function update(product) {
        if (!product || product.id !== msg.product_id) return;
        var bySku = msg.sku_id !== undefined && msg.sku_id !== null;
        if (!bySku) {
          product.stock = msg.stock;
          return;
        }
        (product.skus || []).forEach(function (sku) { if (sku.id === msg.sku_id) sku.stock = msg.stock; });
        product.stock = productStock(product);
      }
      update(my.product);
      my.lineup.forEach(function (item) { if (item !== my.product) update(item); });
      updatePushed();
      renderLineup();
    }

    function buy(product, skuId) {
      if (!skuId && product.skus && product.skus.length === 1) skuId = product.skus[0].id;
      options.onBuy(product, skuId || null);
    }

    function buyPushed() {
      var product = my.product;
      if (!product) return;
      if ((product.skus || []).length > 1 && !my.selectedSku) {
        $("pushed-skus").classList.add("ask");
        options.toast(t.choose_option);
        return;
      }
      buy(product, my.selectedSku);
    }

    $("pushed-close").addEventListener("click", function () { $("pushed").hidden = true; });
    $("pushed-buy").addEventListener("click", buyPushed);

    return {
      setLineup: setLineup,
      setPushed: setPushed,
      applyStock: applyStock,
      unpush: function (productId) { if (my.product && my.product.id === productId) setPushed(null); },
    };
  };
})();
