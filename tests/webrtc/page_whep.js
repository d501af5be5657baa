// Loaded into the page of each WHEP browser script (page.addInitScript, see script.mjs): a
// bare viewer, nothing of edgestream's player. window.whepView(camera, { audio, token })
// makes a recvonly RTCPeerConnection (video, and audio when asked), a muted <video> that
// plays what arrives with jitterBufferTarget 0 (render as soon as possible,
// webrtc-rules.md §7.3), POSTs the offer to /whep/<camera> on the page's own origin and
// applies the answer of a 201. Returns { pc, video, resp, answer, t0 (performance.now()
// just before the POST), events (ICE and connection states as they change), error (set
// when the POST was not answered 201) }.
window.whepView = async (camera, { audio = false, token = '' } = {}) => {
  const events = [];
  const pc = new RTCPeerConnection();
  pc.addTransceiver('video', { direction: 'recvonly' });
  if (audio) pc.addTransceiver('audio', { direction: 'recvonly' });
  pc.oniceconnectionstatechange = () => events.push(`ice:${pc.iceConnectionState}`);
  pc.onconnectionstatechange = () => events.push(`pc:${pc.connectionState}`);
  const video = document.createElement('video');
  video.muted = true;
  video.autoplay = true;
  video.playsInline = true;
  document.body.appendChild(video);
  // Both tracks in one stream on the (muted) element, as a player does: Chromium syncs
  // audio and video only when both play, and only then has estimatedPlayoutTimestamp.
  const stream = new MediaStream();
  pc.ontrack = (e) => {
    stream.addTrack(e.track);
    if (e.track.kind !== 'video') return;
    try { e.receiver.jitterBufferTarget = 0; } catch { /* older Chromium */ }
    video.srcObject = stream;
  };
  await pc.setLocalDescription(await pc.createOffer());
  const headers = { 'Content-Type': 'application/sdp' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const t0 = performance.now();
  const resp = await fetch(`/whep/${camera}`, { method: 'POST', headers, body: pc.localDescription.sdp });
  const answer = await resp.text();
  const view = { pc, video, resp, answer, t0, events, error: null };
  if (resp.status !== 201) view.error = `POST /whep/${camera}: ${resp.status} ${answer}`;
  else await pc.setRemoteDescription({ type: 'answer', sdp: answer });
  return view;
};
