//! Synthetic large files for benchmarks (generated, never stored): realistic shapes of a
//! dedicated wage account's statements and payroll results, with varied amounts and text.

#![allow(dead_code)]

/// A camt.053 with statements of `entries_per_stmt` entries until `target_bytes`.
pub fn camt053(target_bytes: usize, entries_per_stmt: usize) -> String {
    let mut s = String::with_capacity(target_bytes + 4096);
    s.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.08\">\n<BkToCstmrStmt>\n<GrpHdr><MsgId>BENCH-053</MsgId><CreDtTm>2026-05-31T18:00:00+08:00</CreDtTm></GrpHdr>\n");
    let mut n: u64 = 0;
    let mut stmt = 0;
    while s.len() < target_bytes {
        stmt += 1;
        s.push_str(&format!(
            "<Stmt>\n  <Id>STMT-{stmt}</Id>\n  <ElctrncSeqNb>{stmt}</ElctrncSeqNb>\n  <CreDtTm>2026-05-31T18:00:00+08:00</CreDtTm>\n  <Acct><Id><IBAN>CN{stmt:020}</IBAN></Id><Ccy>CNY</Ccy></Acct>\n  <Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy=\"CNY\">1000000.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-05-31</Dt></Dt></Bal>\n"
        ));
        let mut balance: i64 = 100_000_000;
        for _ in 0..entries_per_stmt {
            n += 1;
            let fen = (n * 7919 % 5_000_000) as i64 + 1;
            let credit = n.is_multiple_of(3);
            balance += if credit { fen } else { -fen };
            s.push_str(&format!(
                "  <Ntry>\n    <NtryRef>{n}</NtryRef>\n    <Amt Ccy=\"CNY\">{}.{:02}</Amt>\n    <CdtDbtInd>{}</CdtDbtInd>\n    <Sts><Cd>BOOK</Cd></Sts>\n    <BookgDt><Dt>2026-05-31</Dt></BookgDt>\n    <ValDt><Dt>2026-05-31</Dt></ValDt>\n    <AcctSvcrRef>ICBC2026053100{n:08}</AcctSvcrRef>\n    <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>ICDT</Cd><SubFmlyCd>SALA</SubFmlyCd></Fmly></Domn></BkTxCd>\n    <NtryDtls><TxDtls>\n      <Refs><EndToEndId>WAGE-2026-05-{n:08}</EndToEndId></Refs>\n      <RltdPties><Cdtr><Pty><Nm>工人{n}号 Worker {n}</Nm></Pty></Cdtr><CdtrAcct><Id><Othr><Id>62170000{n:011}</Id></Othr></Id></CdtrAcct></RltdPties>\n      <RmtInf><Ustrd>2026年5月工资 wages May 2026 project HT-2026-001</Ustrd></RmtInf>\n    </TxDtls></NtryDtls>\n  </Ntry>\n",
                fen / 100,
                fen % 100,
                if credit { "CRDT" } else { "DBIT" }
            ));
        }
        let sign = if balance < 0 { "DBIT" } else { "CRDT" };
        let abs = balance.abs();
        s.push_str(&format!(
            "  <Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy=\"CNY\">{}.{:02}</Amt><CdtDbtInd>{sign}</CdtDbtInd><Dt><Dt>2026-05-31</Dt></Dt></Bal>\n</Stmt>\n",
            abs / 100,
            abs % 100
        ));
    }
    s.push_str("</BkToCstmrStmt>\n</Document>\n");
    s
}

/// A pain.002 with payment blocks of `tx_per_block` transactions until `target_bytes`.
pub fn pain002(target_bytes: usize, tx_per_block: usize) -> String {
    let mut s = String::with_capacity(target_bytes + 4096);
    s.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.002.001.10\">\n<CstmrPmtStsRpt>\n<GrpHdr><MsgId>BENCH-002</MsgId><CreDtTm>2026-06-05T09:00:00</CreDtTm></GrpHdr>\n<OrgnlGrpInfAndSts><OrgnlMsgId>PAYROLL-MSG</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId><GrpSts>PART</GrpSts></OrgnlGrpInfAndSts>\n");
    let mut n: u64 = 0;
    let mut block = 0;
    while s.len() < target_bytes {
        block += 1;
        s.push_str(&format!("<OrgnlPmtInfAndSts>\n  <OrgnlPmtInfId>PAYROLL-{block}</OrgnlPmtInfId>\n  <PmtInfSts>PART</PmtInfSts>\n"));
        for _ in 0..tx_per_block {
            n += 1;
            let fen = (n * 7919 % 2_000_000) as i64 + 100_000;
            let (sts, rsn) = match n % 10 {
                0 => ("RJCT", "<StsRsnInf><Rsn><Cd>AC04</Cd></Rsn><AddtlInf>收款账户已销户 account closed</AddtlInf></StsRsnInf>"),
                1 => ("ACSP", ""),
                _ => ("ACSC", ""),
            };
            s.push_str(&format!(
                "  <TxInfAndSts>\n    <OrgnlInstrId>I-{n}</OrgnlInstrId>\n    <OrgnlEndToEndId>WAGE-2026-05-{n:08}</OrgnlEndToEndId>\n    <TxSts>{sts}</TxSts>{rsn}\n    <OrgnlTxRef>\n      <Amt><InstdAmt Ccy=\"CNY\">{}.{:02}</InstdAmt></Amt>\n      <ReqdExctnDt><Dt>2026-06-05</Dt></ReqdExctnDt>\n      <Cdtr><Pty><Nm>工人{n}号</Nm></Pty></Cdtr>\n      <CdtrAcct><Id><Othr><Id>62170000{n:011}</Id></Othr></Id></CdtrAcct>\n    </OrgnlTxRef>\n  </TxInfAndSts>\n",
                fen / 100,
                fen % 100
            ));
        }
        s.push_str("</OrgnlPmtInfAndSts>\n");
    }
    s.push_str("</CstmrPmtStsRpt>\n</Document>\n");
    s
}

/// An MT940 file (ASCII; the mt940 crate accepts only the SWIFT character set) with
/// statements of `entries_per_stmt` lines until `target_bytes`.
pub fn mt940(target_bytes: usize, entries_per_stmt: usize) -> String {
    let mut s = String::with_capacity(target_bytes + 4096);
    let mut n: u64 = 0;
    let mut stmt = 0;
    while s.len() < target_bytes {
        stmt += 1;
        s.push_str(&format!(
            ":20:STMT{stmt}\r\n:25:6222021001000012345\r\n:28C:{stmt}/1\r\n:60F:C260531CNY1000000,00\r\n"
        ));
        let mut balance: i64 = 100_000_000;
        for _ in 0..entries_per_stmt {
            n += 1;
            let fen = (n * 7919 % 5_000_000) as i64 + 1;
            let credit = n.is_multiple_of(3);
            balance += if credit { fen } else { -fen };
            s.push_str(&format!(
                ":61:2605310531{}{},{:02}NTRFWAGE{n:08}//ICBC{n:010}\r\n:86:166?00SALARY?20Wages May 2026 project?21HT-2026-001 worker {n}?30ICBKCNBJ?3162170000{n:011}?32WORKER {n}\r\n",
                if credit { 'C' } else { 'D' },
                fen / 100,
                fen % 100
            ));
        }
        let mark = if balance < 0 { 'D' } else { 'C' };
        let abs = balance.abs();
        s.push_str(&format!(
            ":62F:{mark}260531CNY{},{:02}\r\n-\r\n",
            abs / 100,
            abs % 100
        ));
    }
    s
}
