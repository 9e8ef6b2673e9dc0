// Draws the API reference from /api/v1/openapi.json with the vendored Swagger UI
// (static/vendor/swagger-ui). A file of our own, not an inline script: the CSP allows no other.
(function () {
  "use strict";
  var target = document.getElementById("api-reference");
  if (!target || typeof window.SwaggerUIBundle !== "function") {
    return;
  }
  window.SwaggerUIBundle({
    url: target.getAttribute("data-spec-url"),
    domNode: target,
    deepLinking: false,
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    // The reference is read, not used as a console: no requests from this page.
    supportedSubmitMethods: [],
    validatorUrl: null
  });
})();
