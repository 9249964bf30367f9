//! Offer/answer for MSRP (RFC 3264 as RFC 4975 §8 applies it), with the connection model of
//! RFC 6135, the CEMA extension of RFC 6714 and the file transfer rules of RFC 5547.

use std::fmt;
use std::net::IpAddr;

use super::attribute::{Attribute, Chatroom, Direction, Fingerprint, FormatEntry, Setup};
use super::error::NegotiationError;
use super::file::FileDescription;
use super::media::{Media, MsrpMedia, OtherMedia, Protocol};
use super::path::Path;
use super::session::{ConnectionData, Origin, SessionDescription};
use msrp_uri::{Host, MsrpUri};

/// How the local endpoint takes part in choosing who opens the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum SetupPreference {
    /// Only the RFC 4975 model: no `a=setup` is sent, and the offerer connects. RFC 4975 §8.5:
    /// "The party that sent the original offer is responsible for connecting to its peer."
    Rfc4975,
    /// RFC 6135, reachable for incoming connections: offers carry `a=setup:actpass`, answers
    /// `a=setup:passive` (or `active` when the offer is `passive`). RFC 6135 §4.2.2: "If an MSRP UA
    /// can provide a globally reachable IP address that the other endpoint can use as a destination
    /// for a TCP connection, the UA MUST use the a=setup "actpass" attribute value in SDP offers."
    #[default]
    ActPass,
    /// RFC 6135, not reachable (behind a NAT): offers and answers carry `a=setup:active` whenever
    /// the peer allows it. RFC 6135 §4.2.2: "If an MSRP UA cannot provide the actual transport
    /// address, the UA MUST use the a=setup "active" attribute value."
    Active,
}

/// Which endpoint of a session opens the transport connection and sends the first SEND.
///
/// RFC 4975 §5.4: the active endpoint "is responsible for opening the transport connection to the
/// answerer, if a new connection is required", and "the active endpoint MUST immediately issue a
/// SEND request", which binds the connection to the session at the passive endpoint. RFC 4975
/// makes the offerer active (§8.5); RFC 6135 lets `a=setup` choose either side, and its §6 adds
/// that "the active party also takes the role of the TLS client".
///
/// Offer/answer gives it in [`Negotiated::role`]. It is the one role type of the workspace:
/// `msrp-session` takes it in its session configuration and the transport to open a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// The local endpoint connects to the peer (or reuses a connection to it, RFC 4975 §5.4),
    /// sends a SEND at once, and is the TLS client.
    Active,
    /// The local endpoint waits for the peer to connect and to name the session in its first
    /// request, and is the TLS server.
    Passive,
}

/// A local path that cannot be advertised in SDP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CapabilitiesError {
    /// A URI of the path has no explicit port. RFC 4975 §8.2: "MSRP URIs included in an SDP offer
    /// or answer MUST include explicit port numbers."
    MissingPort,
    /// The protocol does not match the scheme of the path (`msrps` goes with TLS).
    ProtocolMismatch,
}

impl fmt::Display for CapabilitiesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::MissingPort => "msrp uri in the local path has no port",
            Self::ProtocolMismatch => "protocol does not match the scheme of the local path",
        })
    }
}

impl std::error::Error for CapabilitiesError {}

/// What the local endpoint offers or accepts for one MSRP media line, and the entry point of
/// offer/answer.
///
/// The offerer calls [`create_offer`](Self::create_offer) and later
/// [`handle_answer`](Self::handle_answer); the answerer calls
/// [`create_answer`](Self::create_answer). Each successful exchange yields a [`Negotiated`]. One
/// `Capabilities` describes one MSRP session: RFC 4975 §8.2 requires the rightmost path URI to be
/// "assigned for this particular session".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capabilities {
    path: Path,
    protocol: Protocol,
    /// The media types this endpoint accepts at the top level (`a=accept-types`). Must not be
    /// empty. Default `message/cpim text/plain`: RFC 4975 §13, "All MSRP endpoints MUST support
    /// the message/cpim type".
    pub accept_types: Vec<FormatEntry>,
    /// The media types this endpoint accepts only inside a container (`a=accept-wrapped-types`).
    /// Default empty (no attribute).
    pub accept_wrapped_types: Vec<FormatEntry>,
    /// The largest message this endpoint wants to receive (`a=max-size`). Default none.
    pub max_size: Option<u64>,
    /// How this endpoint takes part in connection setup. Default [`SetupPreference::ActPass`].
    pub setup: SetupPreference,
    /// The fingerprint of this endpoint's self-signed certificate (`a=fingerprint`). Default none.
    pub fingerprint: Option<Fingerprint>,
    /// Whether a peer reached over TLS without relays must send `a=fingerprint`. Default `true`.
    /// Set it to `false` when peers present certificates that the transport verifies by name.
    pub require_peer_fingerprint: bool,
    /// Whether this endpoint supports CEMA (RFC 6714) and advertises `a=msrp-cema`. Default
    /// `false`.
    pub cema: bool,
    /// The directions this endpoint allows. Default `sendrecv`; `sendonly` to push a file,
    /// `recvonly` to pull one (RFC 5547 §8).
    pub direction: Direction,
    /// The file this endpoint sends (push offer, or answer to a pull offer) or asks for (pull
    /// offer). Default none.
    pub file: Option<FileDescription>,
    /// The chat room functions to declare (`a=chatroom`, RFC 7701). Default none.
    pub chatroom: Option<Chatroom>,
    /// The media title (`i=`). Default none.
    pub title: Option<String>,
}

impl Capabilities {
    /// Capabilities for the given local path (leftmost URI first, the endpoint's own URI last),
    /// with the defaults documented on each field. The protocol is `TCP/TLS/MSRP` when the first
    /// URI is `msrps`, else `TCP/MSRP`.
    pub fn new(path: Path) -> Result<Self, CapabilitiesError> {
        let secure = path.first().scheme().is_secure();
        for uri in path.iter() {
            if uri.port().is_none() {
                return Err(CapabilitiesError::MissingPort);
            }
            if uri.scheme().is_secure() != secure {
                return Err(CapabilitiesError::ProtocolMismatch);
            }
        }
        Ok(Self {
            path,
            protocol: if secure {
                Protocol::TcpTls
            } else {
                Protocol::Tcp
            },
            accept_types: vec![
                FormatEntry::media("message", "cpim"),
                FormatEntry::media("text", "plain"),
            ],
            accept_wrapped_types: Vec::new(),
            max_size: None,
            setup: SetupPreference::default(),
            fingerprint: None,
            require_peer_fingerprint: true,
            cema: false,
            direction: Direction::SendRecv,
            file: None,
            chatroom: None,
            title: None,
        })
    }

    /// Capabilities to push `file` to the peer: `sendonly` and the file attributes (RFC 5547
    /// §8.2.1).
    pub fn push_file(path: Path, file: FileDescription) -> Result<Self, CapabilitiesError> {
        let mut caps = Self::new(path)?;
        caps.direction = Direction::SendOnly;
        caps.file = Some(file);
        Ok(caps)
    }

    /// Capabilities to pull the file that `file` selects from the peer: `recvonly` and the file
    /// attributes (RFC 5547 §8.2.2).
    pub fn pull_file(path: Path, file: FileDescription) -> Result<Self, CapabilitiesError> {
        let mut caps = Self::new(path)?;
        caps.direction = Direction::RecvOnly;
        caps.file = Some(file);
        Ok(caps)
    }

    /// The local path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The protocol of the local media line.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Chooses another protocol with the same protection, such as `TCP/WSS/MSRP` instead of
    /// `TCP/TLS/MSRP`. RFC 7977 §5.2.2 asks WebSocket clients to keep `TCP/TLS/MSRP`.
    pub fn set_protocol(&mut self, protocol: Protocol) -> Result<(), CapabilitiesError> {
        if protocol.is_tls() != self.protocol.is_tls() {
            return Err(CapabilitiesError::ProtocolMismatch);
        }
        self.protocol = protocol;
        Ok(())
    }

    /// The `a=setup` value this endpoint puts in its offers.
    fn offered_setup(&self) -> Option<Setup> {
        // RFC 6714 §4.2: a CEMA offerer with a relay "MUST include an SDP 'setup:actpass'
        // attribute"; without a relay it "MUST include an SDP 'setup' attribute ... according to
        // the procedures in RFC 6135".
        if self.cema && self.path.uses_relay() {
            return Some(Setup::Actpass);
        }
        match self.setup {
            SetupPreference::Rfc4975 if self.cema => Some(Setup::Actpass),
            SetupPreference::Rfc4975 => None,
            // RFC 6135 §4.2.2: "The UA MUST NOT use the a=setup "passive" attribute value in an
            // SDP offer."
            SetupPreference::ActPass => Some(Setup::Actpass),
            SetupPreference::Active => Some(Setup::Active),
        }
    }

    /// The address and port for the local c= and m= lines.
    fn local_address(&self, cema: bool) -> (ConnectionData, u16) {
        // RFC 4975 §8.1: the connection address is the one "from the MSRP URI identifying the
        // endpoint in its path attribute", and the port "MUST match the port value used in the
        // endpoint's MSRP URI". RFC 6714 §4.2 and §4.3: with CEMA and a relay, the endpoint puts
        // "the address information of the relay, rather than its own address information, in
        // the SDP c/m-line". RFC 6135 §4.2.2 adds that with "active" "the port number value
        // should be 9", after RFC 4145; that lowercase "should" yields to the MUST of RFC 4975,
        // so the port stays the one of the path.
        let uri = if cema && self.path.uses_relay() {
            self.path.first()
        } else {
            self.path.last()
        };
        // `new` made sure that every URI of the local path has a port.
        (
            ConnectionData::for_host(&host_text(uri)),
            uri.port().unwrap_or(0),
        )
    }

    /// Builds the local media description.
    fn local_media(&self, setup: Option<Setup>, cema: bool, direction: Direction) -> MsrpMedia {
        let (connection, port) = self.local_address(cema);
        let mut media = MsrpMedia::new(port, self.protocol);
        media.title.clone_from(&self.title);
        media.connection = Some(connection);
        if direction != Direction::SendRecv {
            media.push(Attribute::Direction(direction));
        }
        if !self.accept_types.is_empty() {
            media.push(Attribute::AcceptTypes(self.accept_types.clone()));
        }
        if !self.accept_wrapped_types.is_empty() {
            media.push(Attribute::AcceptWrappedTypes(
                self.accept_wrapped_types.clone(),
            ));
        }
        if let Some(size) = self.max_size {
            media.push(Attribute::MaxSize(size));
        }
        media.push(Attribute::Path(self.path.clone()));
        if let Some(setup) = setup {
            media.push(Attribute::Setup(setup));
        }
        if let Some(fingerprint) = &self.fingerprint {
            media.push(Attribute::Fingerprint(fingerprint.clone()));
        }
        if cema {
            media.push(Attribute::MsrpCema);
        }
        if let Some(room) = &self.chatroom {
            media.push(Attribute::Chatroom(room.clone()));
        }
        media
    }

    /// The MSRP media description of an offer.
    pub fn offer_media(&self) -> MsrpMedia {
        let mut media = self.local_media(self.offered_setup(), self.cema, self.direction);
        if let Some(file) = &self.file {
            media.push_file_description(file);
        }
        media
    }

    /// A complete offer: `v=0`, `origin`, `s=-`, the `c=` line at session level, `t=0 0` and the
    /// MSRP media description.
    pub fn create_offer(&self, origin: Origin) -> SessionDescription {
        let mut media = self.offer_media();
        let mut sd = SessionDescription::new(origin);
        sd.connection = media.connection.take();
        sd.media.push(Media::Msrp(media));
        sd
    }

    /// Answers the first MSRP media line of `offer` with a non-zero port and rejects every other
    /// media line with port 0 (RFC 3264 §6). The answer has `v=0`, `origin`, `s=-`, the `c=` line
    /// at session level and `t=0 0`.
    pub fn create_answer(
        &self,
        offer: &SessionDescription,
        origin: Origin,
    ) -> Result<(SessionDescription, Negotiated), NegotiationError> {
        let index = offer
            .msrp_media()
            .find(|(_, m)| m.port != 0)
            .map(|(i, _)| i)
            .ok_or_else(|| missing_msrp_reason(offer))?;
        let (mut answer, negotiated) = self.answer_media(offer, index)?;
        let mut sd = SessionDescription::new(origin);
        sd.connection = answer.connection.take();
        let mut answer = Some(answer);
        for (i, offered) in offer.media.iter().enumerate() {
            let media = match answer.take_if(|_| i == index) {
                Some(a) => Media::Msrp(a),
                None => offered.rejected(),
            };
            sd.media.push(media);
        }
        Ok((sd, negotiated))
    }

    /// Answers media line `index` of `offer`: returns the answer's media description (with its
    /// own `c=` line) and the negotiated session. The other media lines are the caller's to
    /// answer or reject (see [`Media::rejected`]).
    pub fn answer_media(
        &self,
        offer: &SessionDescription,
        index: usize,
    ) -> Result<(MsrpMedia, Negotiated), NegotiationError> {
        let peer = PeerMedia::new(offer, index)?;
        self.check_common_types(&peer)?;
        let offered_setup = peer.setup();

        // CEMA, RFC 6714 §4.3.
        let mut cema = false;
        if self.cema {
            if !peer.media.has_msrp_cema() {
                // RFC 6714 §4.3: "If the MSRP media description of the SDP offer does not contain
                // an SDP 'msrp-cema' attribute, and the SDP c/m-line address information
                // associated with the MSRP media description does not match the information in
                // the MSRP URI of the SDP 'path' attribute(s), the answerer MUST either reject the
                // offered MSRP connection ... or reject the whole SIP request".
                if peer.address_match() == AddressMatch::Mismatch {
                    return Err(NegotiationError::MiddleboxWithoutCema);
                }
            } else {
                // RFC 6714 §4.3: "If any one or more of the criteria below are met, the answerer
                // MUST fall back to RFC 4975 behavior".
                let offerer_relay = peer.path.uses_relay();
                let local_relay = self.path.uses_relay();
                let offerer_active = matches!(offered_setup, None | Some(Setup::Active));
                let criteria = [
                    // "1. Both MSRP endpoints are using relays for their MSRP communication."
                    offerer_relay && local_relay,
                    // "2. The offerer uses a relay for its MSRP communication and will become
                    // "active"".
                    offerer_relay && offerer_active,
                    // "3. The answerer uses a relay for MSRP communication and is not able to
                    // become "passive"".
                    local_relay && offered_setup == Some(Setup::Passive),
                ];
                cema = !criteria.contains(&true);
            }
        }

        let (answer_setup, role) = if cema && self.path.uses_relay() {
            // RFC 6714 §4.3: an answerer using a relay "MUST include an SDP 'setup:passive'
            // attribute in the MSRP media description of the SDP answer".
            (Some(Setup::Passive), Role::Passive)
        } else {
            let preference = match self.setup {
                // RFC 6714 §4.5: "An MSRP endpoint that supports the CEMA extension MUST support
                // the mechanism defined in RFC 6135".
                SetupPreference::Rfc4975 if cema => SetupPreference::ActPass,
                other => other,
            };
            answerer_setup(preference, offered_setup)?
        };

        // RFC 3264 §6.1: the answer's direction is the reverse of the offer's, narrowed by what
        // the answerer allows.
        let direction = self.direction.intersect(peer.direction.reversed());
        let mut media = self.local_media(answer_setup, cema, direction);
        let file = self.answer_file(&peer, &mut media)?;

        let target = if role == Role::Active {
            // RFC 6714 §4.3: "If the answerer included an SDP 'msrp-cema' attribute in the MSRP
            // media description of the SDP answer, and if the answerer becomes "active", it MUST
            // use the received SDP c/m-line for establishing the MSRP TCP or TLS connection."
            Some(peer.connect_target(cema))
        } else {
            None
        };
        let negotiated = self.negotiated(&peer, role, target, cema, direction, file)?;
        Ok((media, negotiated))
    }

    /// Adds the RFC 5547 attributes to an answer and describes the file transfer, if the offer
    /// proposes one.
    fn answer_file(
        &self,
        peer: &PeerMedia<'_>,
        media: &mut MsrpMedia,
    ) -> Result<Option<FileTransfer>, NegotiationError> {
        let Some(selector) = peer.media.file_selector().filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        // RFC 5547 §8.1: "Implementations according to this specification MUST include a
        // 'file-transfer-id' attribute in SDP offers and answers."
        let transfer_id = peer
            .media
            .file_transfer_id()
            .ok_or(NegotiationError::MissingFileTransferId)?;
        let range = peer.media.file_range();
        match peer.direction {
            Direction::SendOnly => {
                // RFC 5547 §8.3.1: "If the offer contains 'name', 'type', or 'size' selectors in
                // the 'file-selector' attribute, the answerer MUST copy them into the answer. The
                // file receiver copies the value of the 'file-transfer-id' attribute to the SDP
                // answer." ... "The file receiver MUST NOT include 'file-icon',
                // 'file-disposition', or 'file-date' attributes in the SDP answer."
                media.push(Attribute::FileSelector(selector.clone()));
                media.push(Attribute::FileTransferId(transfer_id.to_owned()));
                // RFC 5547 §8.3.1: a receiver that accepts the offered range "MUST include a
                // 'file-range' attribute in the SDP answer with the same range of values".
                if let Some(range) = range {
                    media.push(Attribute::FileRange(range));
                }
                let description = peer
                    .media
                    .file_description()
                    .ok_or(NegotiationError::MissingFileTransferId)?;
                Ok(Some(FileTransfer {
                    description,
                    is_sender: false,
                }))
            }
            Direction::RecvOnly => {
                // RFC 5547 §8.3.2: "If the file selector is unable to identify any file, then the
                // answerer MUST reject the MSRP stream for file transfer".
                let local = self.file.as_ref().ok_or(NegotiationError::NoLocalFile)?;
                let description = FileDescription {
                    selector: local.selector.clone(),
                    // RFC 5547 §8.3.2: the file sender "MUST create a proper SDP answer that
                    // contains the 'file-transfer-id' attribute with the same value received in
                    // the SDP offer".
                    transfer_id: transfer_id.to_owned(),
                    disposition: local.disposition.clone(),
                    date: local.date.clone(),
                    icon: local.icon.clone(),
                    range,
                };
                media.push_file_description(&description);
                Ok(Some(FileTransfer {
                    description,
                    is_sender: true,
                }))
            }
            // RFC 5547 §8: a file sender offers 'sendonly', a file receiver 'recvonly'.
            Direction::SendRecv | Direction::Inactive => {
                Err(NegotiationError::InvalidFileDirection)
            }
        }
    }

    /// Processes the answer to an offer made by [`create_offer`](Self::create_offer): uses its
    /// first MSRP media line.
    pub fn handle_answer(
        &self,
        answer: &SessionDescription,
    ) -> Result<Negotiated, NegotiationError> {
        let index = answer
            .msrp_media()
            .map(|(i, _)| i)
            .next()
            .ok_or_else(|| missing_msrp_reason(answer))?;
        self.handle_answer_media(answer, index)
    }

    /// Processes media line `index` of an answer to an offer made from these capabilities.
    pub fn handle_answer_media(
        &self,
        answer: &SessionDescription,
        index: usize,
    ) -> Result<Negotiated, NegotiationError> {
        let peer = PeerMedia::new(answer, index)?;
        self.check_common_types(&peer)?;
        let role = offerer_role(self.offered_setup(), peer.setup())?;

        // CEMA, RFC 6714 §4.2.
        let mut cema = false;
        let mut use_media_line = false;
        if self.cema {
            if peer.media.has_msrp_cema() {
                cema = true;
                use_media_line = true;
            } else {
                let mismatch = peer.address_match() == AddressMatch::Mismatch;
                // RFC 6714 §4.2: "if the MSRP media description of the SDP answer does not
                // contain an SDP 'msrp-cema' attribute, and if any one or more of the criteria
                // below are met, the offerer MUST fall back to RFC 4975 behavior by sending a new
                // SDP offer".
                let active = role == Role::Active;
                let criteria = [
                    // "1. The SDP c/m-line address information ... does not match ... and the MSRP
                    // endpoint will become "passive"".
                    mismatch && !active,
                    // "2. The offerer uses a relay for its MSRP communication, the SDP c/m-line
                    // address information ... does not match ..., and the offerer will become
                    // "active"".
                    mismatch && self.path.uses_relay() && active,
                    // "3. The remote MSRP endpoint, acting as an answerer, uses a relay for its
                    // MSRP communication, the SDP c/m-line address information ... does not
                    // match ..., and the MSRP offerer will become "active"".
                    mismatch && peer.path.uses_relay() && active,
                ];
                if criteria.contains(&true) {
                    return Err(NegotiationError::CemaFallbackRequired);
                }
                // RFC 6714 §4.2: "In other cases, where none of the criteria above are met, and
                // where the MSRP offerer becomes "active", it MUST use the SDP c/m-line for
                // establishing the MSRP TCP connection." Where the c/m-line matches the path the
                // two name the same address, and the path is used.
                use_media_line = mismatch;
            }
        }

        let direction = self.direction.intersect(peer.direction.reversed());
        let file = self.answered_file(&peer)?;
        let target = if role == Role::Active {
            Some(peer.connect_target(use_media_line))
        } else {
            None
        };
        self.negotiated(&peer, role, target, cema, direction, file)
    }

    /// Checks the RFC 5547 attributes of an answer against the offered file.
    fn answered_file(
        &self,
        peer: &PeerMedia<'_>,
    ) -> Result<Option<FileTransfer>, NegotiationError> {
        let Some(local) = &self.file else {
            return Ok(None);
        };
        // RFC 5547 §8.1: "The SDP answerer MUST copy the value of the 'file-transfer-id'
        // attribute in the SDP answer."
        let answered_id = peer
            .media
            .file_transfer_id()
            .ok_or(NegotiationError::MissingFileTransferId)?;
        if answered_id != local.transfer_id {
            return Err(NegotiationError::FileTransferIdMismatch);
        }
        let range = peer.media.file_range().or(local.range);
        if self.direction.may_send() {
            let mut description = local.clone();
            description.range = range;
            return Ok(Some(FileTransfer {
                description,
                is_sender: true,
            }));
        }
        // A pull: the answer describes the file that the peer will send, and its hash selector
        // is the one to check the received file against (RFC 5547 §8.2.2).
        let selector = peer
            .media
            .file_selector()
            .filter(|s| !s.is_empty())
            .unwrap_or(&local.selector);
        let description = FileDescription {
            selector: selector.clone(),
            transfer_id: local.transfer_id.clone(),
            disposition: peer.media.file_disposition().map(str::to_owned),
            date: peer.media.file_date().cloned(),
            icon: peer.media.file_icon().map(str::to_owned),
            range,
        };
        Ok(Some(FileTransfer {
            description,
            is_sender: false,
        }))
    }

    fn check_common_types(&self, peer: &PeerMedia<'_>) -> Result<(), NegotiationError> {
        // RFC 4975 §8.6: "If the recipient of an offer does not understand any of the payload
        // types indicated in the offered SDP, it SHOULD indicate that using the appropriate
        // mechanism of the rendezvous protocol."
        let common = peer
            .accept_types
            .iter()
            .any(|p| self.accept_types.iter().any(|l| l.overlaps(p)));
        if common {
            Ok(())
        } else {
            Err(NegotiationError::NoCommonAcceptTypes)
        }
    }

    fn negotiated(
        &self,
        peer: &PeerMedia<'_>,
        role: Role,
        connect_to: Option<ConnectTarget>,
        cema: bool,
        direction: Direction,
        file: Option<FileTransfer>,
    ) -> Result<Negotiated, NegotiationError> {
        // The active endpoint connects to the passive one's first hop, so the passive side's
        // protocol is the one of the connection.
        let protocol = match role {
            Role::Active => peer.media.protocol,
            Role::Passive => self.protocol,
        };
        let relays = self.path.uses_relay() || peer.path.uses_relay();
        // RFC 4975 §14.4: "The endpoint MUST use the certificate fingerprint attribute as
        // specified in [18] and MUST include this in the SDP." RFC 6135 §4.3: "fingerprints can
        // only be exchanged in peer-to-peer communication, as MSRP relays [RFC4976] will not
        // receive the SDP payloads containing the fingerprint attributes."
        if protocol.is_tls()
            && !relays
            && self.require_peer_fingerprint
            && peer.fingerprints.is_empty()
        {
            return Err(NegotiationError::MissingFingerprint);
        }
        Ok(Negotiated {
            role,
            connect_to,
            local_path: self.path.clone(),
            peer_path: peer.path.clone(),
            protocol,
            peer_fingerprints: peer.fingerprints.clone(),
            cema,
            local_accept_types: self.accept_types.clone(),
            local_accept_wrapped_types: self.accept_wrapped_types.clone(),
            peer_accept_types: peer.accept_types.to_vec(),
            peer_accept_wrapped_types: peer
                .media
                .accept_wrapped_types()
                .map(<[_]>::to_vec)
                .unwrap_or_default(),
            local_max_size: self.max_size,
            peer_max_size: peer.media.max_size(),
            direction,
            file,
            peer_chatroom: peer.media.chatroom().cloned(),
        })
    }
}

/// The error for a description with no usable MSRP media line.
fn missing_msrp_reason(sd: &SessionDescription) -> NegotiationError {
    if sd.msrp_media().next().is_some() {
        NegotiationError::PortZero
    } else if sd
        .media
        .iter()
        .any(|m| matches!(m, Media::Other(o) if o.media == "message"))
    {
        NegotiationError::UnsupportedProtocol
    } else {
        NegotiationError::NoMsrpMedia
    }
}

/// The answerer's `a=setup` and role, from its preference and the offer's `a=setup` (with
/// `holdconn` already removed).
fn answerer_setup(
    preference: SetupPreference,
    offered: Option<Setup>,
) -> Result<(Option<Setup>, Role), NegotiationError> {
    match (preference, offered) {
        // RFC 4975 §8.5: "The party that sent the original offer is responsible for connecting
        // to its peer." An offerer that asks to be passive leaves nobody to connect.
        (SetupPreference::Rfc4975, Some(Setup::Passive)) => Err(NegotiationError::SetupConflict),
        (SetupPreference::Rfc4975, _) => Ok((None, Role::Passive)),
        (_, Some(Setup::Passive)) => Ok((Some(Setup::Active), Role::Active)),
        // RFC 6135 §4.2.2: "If an SDP offer includes an a=setup "actpass" attribute value, the
        // SDP answerer MAY include an a=setup "active" attribute value in the SDP answer, but
        // SHOULD include an a=setup "passive" attribute value if it knows that it is not located
        // behind a NAT."
        (SetupPreference::Active, Some(Setup::Actpass)) => Ok((Some(Setup::Active), Role::Active)),
        // An offer without `a=setup` (or with `active`) makes the offerer connect, as in
        // RFC 4975; RFC 6135 §4.2.1 still wants an explicit value: "An MSRP UA MUST always include
        // an explicit a=setup attribute in its SDP offers and answers".
        _ => Ok((Some(Setup::Passive), Role::Passive)),
    }
}

/// The offerer's role from its own `a=setup` and the answer's.
fn offerer_role(offered: Option<Setup>, answered: Option<Setup>) -> Result<Role, NegotiationError> {
    // RFC 6135 §4.2.1: "If an MSRP UA receives the "holdconn" attribute value, it MUST ignore it
    // and process the message as if it did not contain an a=setup attribute."
    let answered = answered.filter(|s| *s != Setup::Holdconn);
    match answered {
        // RFC 4975 §8.5: "The party that sent the original offer is responsible for connecting
        // to its peer."
        None => Ok(Role::Active),
        // RFC 4145 allows `actpass` in offers only.
        Some(Setup::Actpass) => Err(NegotiationError::InvalidSetup),
        Some(Setup::Passive) if offered == Some(Setup::Passive) => {
            Err(NegotiationError::SetupConflict)
        }
        Some(Setup::Passive) => Ok(Role::Active),
        Some(_) if matches!(offered, Some(Setup::Actpass | Setup::Passive)) => Ok(Role::Passive),
        // The answerer wants to connect, but the offer said the offerer connects (`active`, or
        // no `a=setup`, which RFC 4975 and RFC 4145 both read as the offerer connecting).
        Some(_) => Err(NegotiationError::SetupConflict),
    }
}

/// Where the active endpoint connects.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ConnectTarget {
    /// The host: a name or an IP address (without brackets).
    pub host: String,
    /// The port.
    pub port: u16,
    /// Whether the address comes from the peer's c= and m= lines (CEMA, RFC 6714) rather than
    /// from the first URI of its path.
    pub from_media_line: bool,
}

/// The file transfer agreed on, if the media line carries one (RFC 5547).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FileTransfer {
    /// The file as the sender describes it, with the agreed transfer id and range.
    pub description: FileDescription,
    /// Whether the local endpoint sends the file.
    pub is_sender: bool,
}

/// The outcome of an offer/answer exchange for one MSRP media line.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Negotiated {
    /// Whether the local endpoint opens the connection (RFC 4975 §8.5, RFC 6135).
    pub role: Role,
    /// Where to connect, when `role` is [`Role::Active`].
    ///
    /// RFC 4975 §8.3: "only the first entry is relevant for purposes of resolving the address and
    /// port, and establishing the network connection". With CEMA the peer's c/m-line is used
    /// instead (RFC 6714 §4.2, §4.3). A local relay changes nothing here: RFC 6135 §4.5, the UA
    /// "MUST always initiate a transport connection towards the relay", which the transport
    /// knows from its relay configuration.
    pub connect_to: Option<ConnectTarget>,
    /// The local path: the From-Path of requests sent in the session.
    pub local_path: Path,
    /// The peer's path: the To-Path of requests sent in the session. RFC 4975 §8.2: "The target
    /// path is the entire path attribute value received from the peer." CEMA does not change it;
    /// it only changes where the connection goes.
    pub peer_path: Path,
    /// The protocol of the connection: the passive endpoint's.
    pub protocol: Protocol,
    /// The peer's fingerprints, against which its certificate is checked. RFC 4975 §14.4: "if the
    /// fingerprint does not match the hashed certificate then the endpoint MUST tear down the
    /// media session immediately."
    pub peer_fingerprints: Vec<Fingerprint>,
    /// Whether CEMA is in use (RFC 6714).
    pub cema: bool,
    /// The media types the local endpoint accepts at the top level.
    pub local_accept_types: Vec<FormatEntry>,
    /// The media types the local endpoint accepts only when wrapped.
    pub local_accept_wrapped_types: Vec<FormatEntry>,
    /// The media types the peer accepts at the top level.
    pub peer_accept_types: Vec<FormatEntry>,
    /// The media types the peer accepts only when wrapped.
    pub peer_accept_wrapped_types: Vec<FormatEntry>,
    /// The local `a=max-size`.
    pub local_max_size: Option<u64>,
    /// The peer's `a=max-size`. RFC 4975 §8.6: "Senders SHOULD NOT exceed the max-size limit for
    /// any message sent in the resulting session."
    pub peer_max_size: Option<u64>,
    /// The agreed direction from the local point of view.
    pub direction: Direction,
    /// The file transfer, if any.
    pub file: Option<FileTransfer>,
    /// The peer's `a=chatroom` declaration.
    pub peer_chatroom: Option<Chatroom>,
}

impl Negotiated {
    /// Whether the local endpoint opens the connection.
    pub fn is_active(&self) -> bool {
        self.role == Role::Active
    }

    /// The To-Path for requests sent in this session: the peer's path.
    pub fn to_path(&self) -> &Path {
        &self.peer_path
    }

    /// The From-Path for requests sent in this session: the local path.
    pub fn from_path(&self) -> &Path {
        &self.local_path
    }

    /// Whether `uri`, the To-Path URI of a received request, names the local endpoint of this
    /// session: it matches the last URI of the local path by RFC 4975 §6.1. CEMA leaves paths
    /// untouched, so this holds with and without it.
    pub fn is_local_uri(&self, uri: &MsrpUri) -> bool {
        self.local_path.last().matches(uri)
    }

    /// Whether `uri`, the last From-Path URI of a received request, names the peer of this
    /// session: it matches the last URI of the peer's path by RFC 4975 §6.1.
    pub fn is_peer_uri(&self, uri: &MsrpUri) -> bool {
        self.peer_path.last().matches(uri)
    }

    /// Whether the connection uses TLS.
    pub fn is_tls(&self) -> bool {
        self.protocol.is_tls()
    }

    /// Whether the local endpoint may send message payloads (RFC 4975 §8.9).
    pub fn may_send(&self) -> bool {
        self.direction.may_send()
    }

    /// Whether the local endpoint may receive message payloads (RFC 4975 §8.9).
    pub fn may_receive(&self) -> bool {
        self.direction.may_receive()
    }

    /// Whether the peer accepts a top-level (unwrapped) body of `content_type`, such as
    /// `text/plain; charset=utf-8`. Parameters are ignored.
    ///
    /// RFC 4975 §8.6: "An MSRP endpoint MUST NOT send content of a type not signaled by the peer
    /// in either an accept-types or an accept-wrapped-types attribute. Furthermore, it MUST NOT
    /// send a top-level (i.e., not wrapped) MIME document of a type not signaled in the
    /// accept-types attribute."
    pub fn peer_accepts(&self, content_type: &str) -> bool {
        list_accepts(&self.peer_accept_types, content_type)
    }

    /// Whether the peer accepts a body of `content_type` wrapped in a `container` such as
    /// `message/cpim`.
    ///
    /// RFC 4975 §8.6: the wrapped types "may only be used when wrapped inside container types
    /// listed in the accept-types attribute", and "any type listed in accept-types may be both
    /// used as a root body and wrapped in other bodies".
    pub fn peer_accepts_wrapped(&self, container: &str, content_type: &str) -> bool {
        list_accepts(&self.peer_accept_types, container)
            && (list_accepts(&self.peer_accept_types, content_type)
                || list_accepts(&self.peer_accept_wrapped_types, content_type))
    }

    /// Whether the peer lists `message/cpim` first in its accept-types.
    ///
    /// RFC 4975 §13: "MSRP endpoints sending instant messages to a peer that has included
    /// "message/cpim" as the first entry in the accept-types attribute SHOULD encapsulate all
    /// instant message bodies in "message/ cpim" wrappers." (The stray space is the RFC's typo,
    /// erratum 1284.)
    pub fn peer_prefers_cpim(&self) -> bool {
        matches!(
            self.peer_accept_types.first(),
            Some(FormatEntry::Media { type_name, subtype, .. })
                if type_name.eq_ignore_ascii_case("message") && subtype.eq_ignore_ascii_case("cpim")
        )
    }

    /// Whether the local endpoint accepts a top-level body of `content_type`; an incoming SEND
    /// of another type is answered with 415.
    pub fn accepts(&self, content_type: &str) -> bool {
        list_accepts(&self.local_accept_types, content_type)
    }

    /// Whether the local endpoint accepts `content_type` wrapped in `container`.
    pub fn accepts_wrapped(&self, container: &str, content_type: &str) -> bool {
        list_accepts(&self.local_accept_types, container)
            && (list_accepts(&self.local_accept_types, content_type)
                || list_accepts(&self.local_accept_wrapped_types, content_type))
    }
}

/// Whether a format list admits `content_type` (`type/subtype`, optional parameters).
fn list_accepts(list: &[FormatEntry], content_type: &str) -> bool {
    let media = content_type.split(';').next().unwrap_or("").trim();
    let Some((type_name, subtype)) = media.split_once('/') else {
        return false;
    };
    let (type_name, subtype) = (type_name.trim(), subtype.trim());
    if type_name.is_empty() || subtype.is_empty() {
        return false;
    }
    list.iter().any(|e| e.matches(type_name, subtype))
}

/// Whether the c/m-line address of a description matches its path (RFC 6714 §4.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AddressMatch {
    /// Some path URI has the c= address and the m= port.
    Match,
    /// No path URI has them.
    Mismatch,
    /// The addresses cannot be compared without DNS (a name on one side, an IP address on the
    /// other); treated as a match, that is no middlebox is assumed.
    Unknown,
}

/// The checked parts of the peer's MSRP media description.
struct PeerMedia<'a> {
    media: &'a MsrpMedia,
    path: &'a Path,
    accept_types: &'a [FormatEntry],
    connection: Option<&'a ConnectionData>,
    direction: Direction,
    fingerprints: Vec<Fingerprint>,
}

impl<'a> PeerMedia<'a> {
    fn new(sd: &'a SessionDescription, index: usize) -> Result<Self, NegotiationError> {
        let media = sd
            .media
            .get(index)
            .and_then(Media::as_msrp)
            .ok_or(NegotiationError::NotMsrpMedia)?;
        if media.port == 0 {
            return Err(NegotiationError::PortZero);
        }
        // RFC 4975 §8.2: "Each SDP offer or answer that proposes MSRP MUST contain a "path"
        // attribute containing one or more MSRP URIs."
        let path = media.path().ok_or(NegotiationError::MissingPath)?;
        for uri in path.iter() {
            // RFC 4975 §8.2: "MSRP URIs included in an SDP offer or answer MUST include explicit
            // port numbers."
            if uri.port().is_none() {
                return Err(NegotiationError::PathWithoutPort);
            }
            // RFC 4975 §8.1: "An offered or accepted media-line for MSRP over TCP MUST include a
            // protocol field value of "TCP/MSRP", or "TCP/TLS/MSRP" for TLS." RFC 4975 §6: "A
            // scheme of "msrps" indicates that the underlying connection MUST be protected with
            // TLS."
            if uri.scheme().is_secure() != media.protocol.is_tls() {
                return Err(NegotiationError::PathSchemeMismatch);
            }
        }
        // RFC 4975 §8.6: "An SDP media-line proposing MSRP MUST be accompanied by an accept-types
        // attribute."
        let accept_types = media
            .accept_types()
            .ok_or(NegotiationError::MissingAcceptTypes)?;
        Ok(Self {
            media,
            path,
            accept_types,
            connection: sd.media_connection(index),
            direction: sd.media_direction(index),
            fingerprints: sd.media_fingerprints(index).into_iter().cloned().collect(),
        })
    }

    /// The peer's `a=setup`, with `holdconn` ignored. RFC 6135 §4.2.1: "If an MSRP UA receives
    /// the "holdconn" attribute value, it MUST ignore it and process the message as if it did not
    /// contain an a=setup attribute."
    fn setup(&self) -> Option<Setup> {
        self.media.setup().filter(|s| *s != Setup::Holdconn)
    }

    fn address_match(&self) -> AddressMatch {
        let Some(connection) = self.connection else {
            return AddressMatch::Unknown;
        };
        let address = connection.address.split('/').next().unwrap_or("");
        let mut result = AddressMatch::Mismatch;
        for uri in self.path.iter() {
            let hosts = match (address.parse::<IpAddr>(), uri.host()) {
                // RFC 6714 §4.4: "Before IPv6 addresses are compared for equivalence, they need to
                // be converted into the same representation".
                (Ok(a), host) if host.is_ip() => Some(host.ip() == Some(a)),
                (Err(_), Host::Name(name)) => Some(address.eq_ignore_ascii_case(name)),
                _ => None,
            };
            match hosts {
                Some(true) if uri.port() == Some(self.media.port) => return AddressMatch::Match,
                Some(_) => {}
                None => result = AddressMatch::Unknown,
            }
        }
        result
    }

    fn connect_target(&self, from_media_line: bool) -> ConnectTarget {
        if from_media_line {
            if let Some(connection) = self.connection {
                let host = connection.address.split('/').next().unwrap_or("");
                return ConnectTarget {
                    host: host.to_owned(),
                    port: self.media.port,
                    from_media_line: true,
                };
            }
        }
        // `new` made sure that every URI of the path has a port.
        let first = self.path.first();
        ConnectTarget {
            host: host_text(first),
            port: first.port().unwrap_or(0),
            from_media_line: false,
        }
    }
}

impl Media {
    /// This media line as an answer rejects it: the same media, protocol and formats with port 0,
    /// which is how RFC 3264 §6 rejects an offered stream. RFC 4975 §8.1 says the same for MSRP:
    /// "a user agent that wishes to accept an offer, but not a specific media-line, MUST set the
    /// port number of that media-line to zero (0) in the response."
    ///
    /// For MSRP, the `a=file-selector` and `a=file-transfer-id` of the offer are kept: RFC 5547
    /// §8.3, "The rejected answer MUST contained a 'file-selector' and 'file-transfer-id'
    /// attributes whose values mirror the corresponding values of the SDP offer."
    pub fn rejected(&self) -> Media {
        match self {
            Media::Msrp(offered) => {
                let mut media = MsrpMedia::new(0, offered.protocol);
                media.formats.clone_from(&offered.formats);
                media.attributes = offered
                    .attributes
                    .iter()
                    .filter(|a| {
                        matches!(a, Attribute::FileSelector(_) | Attribute::FileTransferId(_))
                    })
                    .cloned()
                    .collect();
                Media::Msrp(media)
            }
            Media::Other(offered) => Media::Other(OtherMedia {
                media: offered.media.clone(),
                port: 0,
                port_count: None,
                protocol: offered.protocol.clone(),
                formats: offered.formats.clone(),
                lines: Vec::new(),
            }),
        }
    }
}

/// The host of a URI as a name or an IP address, without the brackets of an IPv6 literal.
fn host_text(uri: &MsrpUri) -> String {
    match uri.host() {
        Host::Name(name) => name.to_owned(),
        host => host.ip().map(|ip| ip.to_string()).unwrap_or_default(),
    }
}
