// Starts Swagger UI on /api/docs (vendor/swagger-ui): a file, not an inline script, so that the
// Content-Security-Policy needs no 'unsafe-inline' for scripts. The settings are FastAPI's
// defaults, without the online validator.
(function () {
  "use strict";
  var el = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: el.dataset.url,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset]
  });
})();
