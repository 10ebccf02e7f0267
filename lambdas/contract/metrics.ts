/**
 * One namespace and one dimension for every Lifeboat metric, so alarms and dashboards can
 * name any of them the same way: namespace `Lifeboat`, dimensions `service` = "lifeboat"
 * (Powertools' own) and `ProtectedService` = the protected service.
 */
export const METRICS_NAMESPACE = 'Lifeboat';
export const POWERTOOLS_SERVICE_NAME = 'lifeboat';
export const SERVICE_DIMENSION = 'ProtectedService';
