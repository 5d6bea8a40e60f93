// How times and a brand's speed read on screen.

/** "~7 min" for a median first response in seconds. @param {number} seconds */
export function duration(seconds) {
  if (seconds < 90) return '~1 min';
  if (seconds < 3600) return `~${Math.round(seconds / 60)} min`;
  if (seconds < 86400 * 1.5) {
    const hours = Math.round(seconds / 360) / 10;
    return `~${hours % 1 ? hours.toFixed(1) : hours} h`;
  }
  return `~${Math.round(seconds / 86400)} days`;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayFormat = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });

/** A short time for a list or a bubble. @param {string|null|undefined} iso */
export function when(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  const now = new Date();
  if (date.toDateString() === now.toDateString()) return timeFormat.format(date);
  const yesterday = new Date(now);
  yesterday.setDate(now.getDate() - 1);
  if (date.toDateString() === yesterday.toDateString()) return 'Yesterday';
  return dayFormat.format(date);
}

/** The first line of what a person sees of a brand's speed. @param {any} service */
export function speedLine(service) {
  const median = service?.median_first_response_s;
  return typeof median === 'number' ? `Usually answers in ${duration(median)}` : 'Response time: not enough data yet';
}

/** "@acme", with the brand's speed when it is known. @param {any} brand */
export function handleLine(brand) {
  const median = brand?.service?.median_first_response_s;
  return `@${brand?.handle ?? ''}${typeof median === 'number' ? ` · usually answers in ${duration(median)}` : ''}`;
}
