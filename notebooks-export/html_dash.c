/* html_dash.c — the dashboard's feature pages, at the level of SAEDashboard / Neuronpedia:
 * per reported latent its statistics, activation histogram with firing density, logit-effect
 * histogram over the vocabulary and top/bottom 10 logits, family across widths with decoder
 * cosines, its steering rows, top activating contexts and contexts sampled from 10
 * activation intervals, each token shaded by its activation (value on hover).
 *
 * Scale: the data is one inline JSON block (<script type="application/json">, never
 * executed) and the inline script renders one feature at a time on demand, so hundreds of
 * latents cost one list entry each until opened.  Search: a latent id ("493"), "sae:latent"
 * or any token text; the page reads an initial query from the URL fragment (#q=...), which
 * is how the Chromium test drives it. */
#include "export_int.h"

#include <stdlib.h>
#include <string.h>

#include "sx_json.h"

const char *XP_DASH_CSS =
    ".fwrap{display:flex;gap:16px;align-items:flex-start}#flist{width:230px;max-height:80vh;"
    "overflow:auto;background:#fff;border:1px solid #d1d5db;border-radius:6px;padding:4px}"
    "#flist button{display:block;width:100%;text-align:left;border:0;background:none;padding:3px 6px;"
    "font:13px ui-monospace,monospace;cursor:pointer;white-space:nowrap;overflow:hidden;"
    "text-overflow:ellipsis}#flist button.sel{background:#dbeafe}#flist button:hover{background:#eef2f7}"
    "#fdetail{flex:1;min-width:0;background:#fff;border:1px solid #d1d5db;border-radius:6px;"
    "padding:10px 14px}#fdetail h3{margin:0 0 6px}#fdetail h3 span{color:#6b7280;font-weight:normal;"
    "margin-left:10px}#fdetail h4{margin:12px 0 2px;font-size:13px;color:#374151}"
    ".tk{font-family:ui-monospace,monospace;white-space:pre;border-radius:2px}"
    ".tk.ctr{outline:1px solid #7f2704}#fsearch{padding:5px 8px;width:340px;font-size:14px}";

/* The feature pages' renderer (the readable source is this string; it contains no URL and
 * no "//", like the rest of the page). */
const char *XP_DASH_JS =
    "(function(){\n"
    "var D=JSON.parse(document.getElementById('featdata').textContent);\n"
    "var F=D.features,list=document.getElementById('flist'),box=document.getElementById('fsearch'),\n"
    "det=document.getElementById('fdetail'),cnt=document.getElementById('fcount');\n"
    "function el(t,a,txt){var e=document.createElement(t);if(a)for(var k in a)e.setAttribute(k,a[k]);if(txt!=null)e.textContent=txt;return e;}\n"
    "function fmt(v){if(v==null||isNaN(v))return '';var a=Math.abs(v);return a!==0&&(a<1e-3||a>=1e5)?v.toExponential(2):(Math.round(v*1000)/1000).toString();}\n"
    "var NS='http'+String.fromCharCode(58)+'/'+'/www.w3.org/2000/svg';\n"
    "function svg(w,h){var s=document.createElementNS(NS,'svg');s.setAttribute('width',w);s.setAttribute('height',h);s.setAttribute('viewBox','0 0 '+w+' '+h);return s;}\n"
    "function sv(s,t,a,txt){var e=document.createElementNS(NS,t);for(var k in a)e.setAttribute(k,a[k]);if(txt!=null)e.textContent=txt;s.appendChild(e);return e;}\n"
    "/* bars: lo[i]..hi[i] with count c[i]; colour per bar by fn */\n"
    "function bars(title,lo,hi,c,col,xlab){\n"
    " var W=420,H=170,X0=44,X1=W-10,Y0=18,Y1=H-34,s=svg(W,H),mx=0,i;\n"
    " for(i=0;i<c.length;i++)if(c[i]>mx)mx=c[i];if(!mx)mx=1;\n"
    " var a=lo[0],b=hi[hi.length-1];if(!(b>a))b=a+1;\n"
    " function X(v){return X0+(v-a)/(b-a)*(X1-X0);}\n"
    " sv(s,'text',{x:X0,y:12,'font-size':12,'font-weight':'bold'},title);\n"
    " sv(s,'line',{x1:X0,y1:Y1,x2:X1,y2:Y1,stroke:'#333'});sv(s,'line',{x1:X0,y1:Y0,x2:X0,y2:Y1,stroke:'#333'});\n"
    " for(i=0;i<c.length;i++){var h=(Y1-Y0)*c[i]/mx,r=sv(s,'rect',{x:X(lo[i]),y:Y1-h,width:Math.max(0.5,X(hi[i])-X(lo[i])-0.5),height:h,fill:col(i)});\n"
    "  sv(r,'title',{},fmt(lo[i])+' to '+fmt(hi[i])+': '+c[i]);}\n"
    " for(i=0;i<=4;i++){var v=a+(b-a)*i/4;sv(s,'text',{x:X(v),y:Y1+14,'font-size':10,'text-anchor':i===0?'start':i===4?'end':'middle'},fmt(v));}\n"
    " sv(s,'text',{x:X0-4,y:Y0+4,'font-size':10,'text-anchor':'end'},String(mx));sv(s,'text',{x:X0-4,y:Y1,'font-size':10,'text-anchor':'end'},'0');\n"
    " sv(s,'text',{x:(X0+X1)/2,y:H-4,'font-size':11,'text-anchor':'middle'},xlab);\n"
    " return s;}\n"
    "/* in running text a leading-space mark reads as the space it is; the tooltip keeps the token's display form */\n"
    "function tokspan(t,v,mx,centre){var sp=el('span',{'class':'tk'+(centre?' ctr':''),title:t+'  activation '+fmt(v)},t.replace(/^\\u2423+/,function(m){return m.replace(/\\u2423/g,' ');}));\n"
    " var x=mx>0&&v>0?Math.min(1,v/mx):0;if(x>0)sp.style.background='rgba(213,94,0,'+(0.12+0.8*x).toFixed(3)+')';return sp;}\n"
    "function example(e,mx){var li=el('li');li.appendChild(el('span',{'class':'act'},fmt(e.a)));var c=el('span',{'class':'ctxt'});\n"
    " for(var i=0;i<e.t.length;i++)c.appendChild(tokspan(e.t[i],e.v[i],mx,i===e.c));li.appendChild(c);return li;}\n"
    "function fallback(e,mx){var li=el('li');li.appendChild(el('span',{'class':'act'},fmt(e.a)));var c=el('span',{'class':'ctxt'});\n"
    " c.appendChild(document.createTextNode(e.before));c.appendChild(tokspan(e.tok,e.a,mx,true));c.appendChild(document.createTextNode(e.after));li.appendChild(c);return li;}\n"
    "function table(head,rows){var t=el('table'),tr=el('tr');head.forEach(function(h){tr.appendChild(el('th',null,h));});t.appendChild(tr);\n"
    " rows.forEach(function(r){var tr=el('tr');r.forEach(function(v,i){tr.appendChild(el('td',typeof v==='string'?{'class':'t'}:null,typeof v==='number'?fmt(v):v));});t.appendChild(tr);});return t;}\n"
    "function render(f){\n"
    " det.textContent='';det.setAttribute('data-feature',f.id);\n"
    " var h=el('h3',null,f.sae+' \\u00b7 latent '+f.latent);h.appendChild(el('span',null,'toxic rank '+f.rank+' \\u00b7 score '+fmt(f.score)));det.appendChild(h);\n"
    " var st=[['AUROC',f.auroc],['Cohen\\u2019s d',f.cohens_d],['mean diff',f.mean_diff],['fire rate toxic',f.fr_toxic],['fire rate clean',f.fr_clean]];\n"
    " if(f.density!=null)st.push(['firing density',f.density]);if(f.max!=null)st.push(['max activation',f.max]);\n"
    " var row=el('div',{'class':'row'});row.appendChild(table(['statistic','value'],st));\n"
    " if(f.hist){var lo=f.hist.e.slice(0,-1),hi=f.hist.e.slice(1);\n"
    "  row.appendChild(bars('Activations (density '+fmt(100*f.density)+'% of '+f.n_rows+' tokens)',lo,hi,f.hist.c,function(){return '#d55e00';},'activation'));}\n"
    " if(f.lhist){row.appendChild(bars('Logit effect over the vocabulary',f.lhist.lo,f.lhist.hi,f.lhist.c,function(i){return (f.lhist.lo[i]+f.lhist.hi[i])/2<0?'#0072b2':'#e69f00';},'logit (decoder \\u00b7 unembedding)'));}\n"
    " det.appendChild(row);\n"
    " var lg=el('div',{'class':'row'});\n"
    " function lt(title,a){var d=el('div');d.appendChild(el('b',null,title));d.appendChild(table(['token','logit'],a.map(function(p){return [p[0],p[1]==null?'':p[1]];})));return d;}\n"
    " lg.appendChild(lt('Top 10 logits (promoted)',f.pos));lg.appendChild(lt('Bottom 10 logits (suppressed)',f.neg));\n"
    " var fam=el('div');fam.appendChild(el('b',null,'Family across widths'));\n"
    " if(f.fam.length)fam.appendChild(table(['SAE','latent','decoder cosine','toxic'],f.fam.map(function(m){return [m.sae,String(m.latent),m.cos,m.toxic?'yes':''];})));\n"
    " else fam.appendChild(el('p',{'class':'note'},'no partner at the split threshold'));\n"
    " lg.appendChild(fam);det.appendChild(lg);\n"
    " var sd=el('div');sd.appendChild(el('b',null,'Steering with this latent'));\n"
    " if(f.steer.length)sd.appendChild(table(['condition','tier','alpha','EMT','EMT CI','tox. prob','ppl'],f.steer.map(function(s){return [s.cond,s.tier,s.alpha,s.emt,fmt(s.lo)+'\\u2013'+fmt(s.hi),s.tp,s.ppl];})));\n"
    " else sd.appendChild(el('p',{'class':'note'},'not steered in this run'));det.appendChild(sd);\n"
    " var mx=f.max||0;(f.ex||[]).forEach(function(e){if(e.a>mx)mx=e.a;});\n"
    " if(f.ex&&f.ex.length){var top=el('ol',{'class':'ctx'}),cur=null,curb=-2;\n"
    "  det.appendChild(el('h4',null,'Top activations'));det.appendChild(top);\n"
    "  f.ex.forEach(function(e){if(e.b<0){top.appendChild(example(e,mx));return;}\n"
    "   if(e.b!==curb){curb=e.b;det.appendChild(el('h4',null,'Interval '+fmt(e.lo)+' to '+fmt(e.hi)+' \\u00b7 contains '+fmt(100*e.share)+'% of firing tokens'));cur=el('ol',{'class':'ctx'});det.appendChild(cur);}\n"
    "   cur.appendChild(example(e,mx));});}\n"
    " else if(f.ctx&&f.ctx.length){det.appendChild(el('h4',null,'Top activations (top_contexts.csv; no cache detail)'));var o=el('ol',{'class':'ctx'});f.ctx.forEach(function(e){o.appendChild(fallback(e,mx));});det.appendChild(o);}\n"
    " else det.appendChild(el('p',{'class':'note'},'No contexts for this latent.'));\n"
    " if(f.dec_norm!=null)det.appendChild(el('p',{'class':'note'},'decoder vector: '+f.d_in+' values, L2 norm '+fmt(f.dec_norm)+' (in the Neuronpedia export)'));\n"
    "}\n"
    "var items=[];\n"
    "F.forEach(function(f,i){var b=el('button',{'type':'button','data-i':i,'data-id':f.id},f.sae+':'+f.latent+'  '+(f.label||''));b.addEventListener('click',function(){select(i);});list.appendChild(b);items.push(b);});\n"
    "function select(i){items.forEach(function(b,k){b.className=k===i?'sel':'';});render(F[i]);}\n"
    "function match(f,q){if(!q)return true;q=q.toLowerCase();var id=(f.sae+':'+f.latent).toLowerCase();\n"
    " if(/^\\d+$/.test(q))return String(f.latent)===q;return id.indexOf(q)>=0||f.search.toLowerCase().indexOf(q)>=0;}\n"
    "function filter(){var q=box.value.trim(),n=0,first=-1;F.forEach(function(f,i){var ok=match(f,q);items[i].style.display=ok?'':'none';if(ok){n++;if(first<0)first=i;}});\n"
    " cnt.textContent=n;return first;}\n"
    "box.addEventListener('input',function(){var i=filter();if(i>=0)select(i);});\n"
    "var m=/[#&]q=([^&]*)/.exec(location.hash);if(m)box.value=decodeURIComponent(m[1]);\n"
    "var i0=filter();if(F.length)select(i0>=0?i0:0);\n"
    "})();\n"
    ;

void xp_json_html(FILE *f, const char *s) {
    int in = 0, esc = 0;
    for (; *s; s++) {
        char c = *s;
        if (in && !esc && (c == '<' || c == '>' || c == '&' || c == '/' || c == ':')) {
            fprintf(f, "\\u%04x", (unsigned)c);
            continue;
        }
        if (in && esc) esc = 0;
        else if (in && c == '\\') esc = 1;
        else if (c == '"') in = !in;
        fputc(c, f);
    }
}

static cJSON *num_or_null(double v) { return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull(); }
static void put(cJSON *o, const char *k, double v) { cJSON_AddItemToObject(o, k, num_or_null(v)); }

/* Space-separated display tokens (toxic_latents.csv) as [token, null] pairs. */
static void tokens_pairs(cJSON *arr, const char *list) {
    char tok[512];
    for (const char *p = list ? list : ""; *p;) {
        while (*p == ' ') p++;
        if (!*p) break;
        size_t n = strcspn(p, " ");
        snprintf(tok, sizeof tok, "%.*s", (int)(n < sizeof tok ? n : sizeof tok - 1), p);
        cJSON *pr = cJSON_CreateArray();
        cJSON_AddItemToArray(pr, cJSON_CreateString(tok));
        cJSON_AddItemToArray(pr, cJSON_CreateNull());
        cJSON_AddItemToArray(arr, pr);
        p += n;
    }
}

/* Does a sweep row steer this latent of this SAE (its latents list holds it)? */
static int steers(const xp_run *run, const xp_sweep *s, int sae, int64_t latent) {
    xp_series ser;
    xp_series_of(run, s, &ser); /* the SAE the row steers, as the trade-off chart says */
    if (ser.sae != sae) return 0;
    for (const char *p = s->latents ? s->latents : ""; *p;) {
        while (*p == ' ' || *p == ',') p++;
        if (!*p) break;
        char *e;
        long long v = strtoll(p, &e, 10);
        if (e == p) break;
        if (v == latent) return 1;
        p = e;
    }
    return 0;
}

static cJSON *feature_json(const xp_run *run, const xp_feat *ft, int max_ctx) {
    cJSON *o = cJSON_CreateObject();
    const xp_toxic *t = ft->tox;
    const sx_feature_detail *d = ft->d;
    char id[200], search[8192];
    size_t sl = 0;
    search[0] = 0;
    snprintf(id, sizeof id, "%s:%lld", run->sae[ft->sae], (long long)ft->latent);
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "sae", run->sae[ft->sae]);
    put(o, "latent", (double)ft->latent);
    put(o, "rank", t ? (double)t->rank : NAN);
    put(o, "score", t ? t->score : NAN);
    put(o, "auroc", t ? t->auroc : NAN);
    put(o, "cohens_d", t ? t->cohens_d : NAN);
    put(o, "mean_diff", t ? t->mean_diff : NAN);
    put(o, "fr_toxic", t ? t->fire_rate_toxic : NAN);
    put(o, "fr_clean", t ? t->fire_rate_clean : NAN);
    const xp_stat *st = xp_find_stat(run, ft->sae, ft->latent);
    if (d) {
        put(o, "density", d->n_rows ? (double)d->n_fire / (double)d->n_rows : NAN);
        put(o, "n_rows", (double)d->n_rows);
        put(o, "max", d->max_act);
        if (d->n_fire) {
            cJSON *h = cJSON_AddObjectToObject(o, "hist"), *e = cJSON_AddArrayToObject(h, "e"),
                  *c = cJSON_AddArrayToObject(h, "c");
            for (int b = 0; b <= d->n_bins; b++) cJSON_AddItemToArray(e, cJSON_CreateNumber(d->bin_lo[b]));
            for (int b = 0; b < d->n_bins; b++) cJSON_AddItemToArray(c, cJSON_CreateNumber((double)d->bin_count[b]));
        }
    } else if (st) {
        put(o, "density", st->fire_freq);
        put(o, "max", st->max_act);
    }
    int64_t nl, l0 = xp_lhist_range(run, ft->sae, ft->latent, &nl);
    if (nl) {
        cJSON *h = cJSON_AddObjectToObject(o, "lhist"), *lo = cJSON_AddArrayToObject(h, "lo"),
              *hi = cJSON_AddArrayToObject(h, "hi"), *c = cJSON_AddArrayToObject(h, "c");
        for (int64_t i = l0; i < l0 + nl; i++) {
            cJSON_AddItemToArray(lo, cJSON_CreateNumber(run->lhist[i].lo));
            cJSON_AddItemToArray(hi, cJSON_CreateNumber(run->lhist[i].hi));
            cJSON_AddItemToArray(c, cJSON_CreateNumber((double)run->lhist[i].count));
        }
    }
    cJSON *pos = cJSON_AddArrayToObject(o, "pos"), *neg = cJSON_AddArrayToObject(o, "neg");
    int64_t ng, g0 = xp_logit_range(run, ft->sae, ft->latent, &ng);
    for (int64_t i = g0; i < g0 + ng; i++) {
        cJSON *pr = cJSON_CreateArray();
        cJSON_AddItemToArray(pr, cJSON_CreateString(run->logits[i].tok));
        cJSON_AddItemToArray(pr, cJSON_CreateNumber(run->logits[i].v));
        cJSON_AddItemToArray(run->logits[i].neg ? neg : pos, pr);
        if (!run->logits[i].neg && sl + 520 < sizeof search)
            sl += (size_t)snprintf(search + sl, sizeof search - sl, " %s", run->logits[i].tok);
    }
    if (!ng && t) {
        tokens_pairs(pos, t->top_promoted);
        tokens_pairs(neg, t->top_suppressed);
        if (t->top_promoted) sl += (size_t)snprintf(search + sl, sizeof search - sl, " %.4000s", t->top_promoted);
    }
    /* label in the list: the first three promoted tokens */
    char label[256] = "";
    for (int i = 0; i < 3 && i < cJSON_GetArraySize(pos); i++) {
        const cJSON *s0 = cJSON_GetArrayItem(cJSON_GetArrayItem(pos, i), 0);
        size_t L = strlen(label);
        snprintf(label + L, sizeof label - L, "%s%.60s", i ? " " : "", s0->valuestring);
    }
    cJSON_AddStringToObject(o, "label", label);
    cJSON *ex = cJSON_AddArrayToObject(o, "ex");
    for (int i = 0; d && i < d->n_ex; i++) {
        const sx_feature_example *e = &d->ex[i];
        cJSON *x = cJSON_CreateObject(), *tt = cJSON_AddArrayToObject(x, "t"), *vv = cJSON_AddArrayToObject(x, "v");
        put(x, "b", e->band);
        put(x, "lo", e->bin_min);
        put(x, "hi", e->bin_max);
        put(x, "share", e->bin_contains);
        put(x, "a", e->act);
        put(x, "c", e->centre);
        for (int k = 0; k < e->n_tok; k++) {
            cJSON_AddItemToArray(tt, cJSON_CreateString(e->text[k]));
            cJSON_AddItemToArray(vv, cJSON_CreateNumber(round(e->vals[k] * 1e4) / 1e4));
        }
        if (e->band < 0 && sl + 520 < sizeof search)
            sl += (size_t)snprintf(search + sl, sizeof search - sl, " %.500s", e->text[e->centre]);
        cJSON_AddItemToArray(ex, x);
    }
    cJSON *ctx = cJSON_AddArrayToObject(o, "ctx");
    int64_t nc;
    const xp_ctx *c = xp_find_ctx(run, ft->sae, ft->latent, &nc);
    for (int64_t i = 0; !d && i < nc && i < max_ctx; i++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "before", c[i].before);
        cJSON_AddStringToObject(x, "tok", c[i].token);
        cJSON_AddStringToObject(x, "after", c[i].after);
        put(x, "a", c[i].activation);
        if (sl + 520 < sizeof search) sl += (size_t)snprintf(search + sl, sizeof search - sl, " %.500s", c[i].token);
        cJSON_AddItemToArray(ctx, x);
    }
    /* family across widths: partners at the split threshold and their decoder cosines */
    cJSON *fam = cJSON_AddArrayToObject(o, "fam");
    int narrow = run->n_sae > 1 && run->sae_width[ft->sae] <= run->sae_width[ft->sae == 0 ? 1 : 0];
    for (int64_t i = 0; i < run->n_pairs; i++) {
        const xp_pair *p = &run->pairs[i];
        int64_t other;
        if (narrow ? p->small_latent != ft->latent : p->wide_latent != ft->latent) continue;
        other = narrow ? p->wide_latent : p->small_latent;
        int os = -1;
        for (int k = 0; k < run->n_sae; k++)
            if (k != ft->sae && (os < 0 || (narrow ? run->sae_width[k] > run->sae_width[os] : run->sae_width[k] < run->sae_width[os]))) os = k;
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "sae", os >= 0 ? run->sae[os] : "");
        put(m, "latent", (double)other);
        put(m, "cos", p->cosine);
        cJSON_AddBoolToObject(m, "toxic", os >= 0 && xp_find_toxic(run, os, other) != NULL);
        cJSON_AddItemToArray(fam, m);
    }
    cJSON *sw = cJSON_AddArrayToObject(o, "steer");
    for (int64_t i = 0; i < run->n_sweep; i++) {
        const xp_sweep *s = &run->sweep[i];
        if (!steers(run, s, ft->sae, ft->latent)) continue;
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "cond", s->condition ? s->condition : "");
        cJSON_AddStringToObject(m, "tier", s->tier ? s->tier : "");
        put(m, "alpha", s->alpha);
        put(m, "emt", s->v[XS_EMT]);
        put(m, "lo", s->v[XS_EMT_LO]);
        put(m, "hi", s->v[XS_EMT_HI]);
        put(m, "tp", s->v[XS_TP]);
        put(m, "ppl", s->v[XS_PPL]);
        cJSON_AddItemToArray(sw, m);
    }
    if (d) {
        double n2 = 0;
        for (int k = 0; k < d->d_in; k++) n2 += (double)d->dec[k] * d->dec[k];
        put(o, "dec_norm", sqrt(n2));
        put(o, "d_in", d->d_in);
    }
    cJSON_AddStringToObject(o, "search", search);
    return o;
}

void xp_dash_section(FILE *f, const xp_run *run, const sx_export_opts *o) {
    fputs("<h2 id=\"latents\">Feature pages (toxic latents)</h2>", f);
    if (!run->n_feats) {
        fputs("<p class=\"note\">No toxic latents (toxic_latents.csv) in this run.</p>", f);
        return;
    }
    int have_det = 0;
    for (int s = 0; s < run->n_sae; s++) have_det |= run->n_det[s] > 0;
    fprintf(f, "<p>One page per reported latent (toxic ranks of the SAEs interleaved, %lld of "
               "%lld). Search by latent id, <code>sae&#58;latent</code> or a token. Each context "
               "shades every token by this latent's activation there (hover for the value); the "
               "activating token is outlined. %s</p><p><input id=\"fsearch\" type=\"search\" "
               "placeholder=\"latent id, sae&#58;latent or token\" aria-label=\"search features\"> "
               "<span id=\"fcount\">%lld</span> shown</p>",
            (long long)run->n_feats, (long long)run->n_toxic,
            have_det ? "Top activations, then examples sampled from 10 equal-width activation "
                       "intervals (5 each), from the activation cache of the stats run."
                     : "No stats_run.json was found, so only the top contexts of top_contexts.csv "
                       "are shown (run analyze stats on a cache for band contexts and histograms).",
            (long long)run->n_feats);
    fputs("<div class=\"fwrap\"><div id=\"flist\" role=\"listbox\"></div><div id=\"fdetail\">"
          "</div></div><script id=\"featdata\" type=\"application/json\">", f);
    cJSON *root = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(root, "features");
    for (int64_t i = 0; i < run->n_feats; i++)
        cJSON_AddItemToArray(arr, feature_json(run, &run->feats[i], o->max_contexts));
    char *txt = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (txt) xp_json_html(f, txt);
    free(txt);
    fputs("</script>", f);
}
