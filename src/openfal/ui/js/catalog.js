// The app list, fetched once per page view, and endpoint ids split into app and path.
import { api } from "./api.js";

export const loadCatalog = () => api("rest/catalog");

// "fal-ai/flux/schnell" -> {app, endpoint}: the longest app id that prefixes the id
export function findEndpoint(catalog, endpointId) {
  const app = catalog
    .filter((a) => endpointId === a.app_id || endpointId.startsWith(`${a.app_id}/`))
    .sort((a, b) => b.app_id.length - a.app_id.length)[0];
  if (!app) return null;
  const path = `/${endpointId.slice(app.app_id.length + 1)}`;
  const endpoint = app.endpoints.find((e) => e.path === path);
  return endpoint ? { app, endpoint } : null;
}

export const endpointId = (app, endpoint) => app.app_id + (endpoint.path === "/" ? "" : endpoint.path);
